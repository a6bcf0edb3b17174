/** The gateway API's description, served at /_berth/api/openapi.json. Keep it in step with ./routes.ts. */
const berth = {
  type: 'object',
  properties: {
    user: { type: 'string' },
    name: { type: 'string', description: 'safe name: the berth in the runtime' },
    state: { type: 'string', enum: ['stopped', 'starting', 'ready', 'paused', 'stopping', 'failed'] },
    since: { type: 'string', format: 'date-time' },
    startedAt: { type: 'string', format: 'date-time', nullable: true },
    lastActivity: { type: 'string', format: 'date-time', nullable: true },
    idleStopAt: { type: 'string', format: 'date-time', nullable: true },
    image: { type: 'string', nullable: true },
    profile: {
      type: 'object',
      nullable: true,
      description: 'the profile and option choices of the current or last start on this gateway; null without profiles',
      properties: { profile: { type: 'string' }, options: { type: 'object', additionalProperties: { type: 'string' } } },
    },
    failure: {
      type: 'object',
      nullable: true,
      properties: { reason: { type: 'string' }, exitCode: { type: 'integer', nullable: true }, logTail: { type: 'array', items: { type: 'string' } } },
    },
    progress: { type: 'array', items: { $ref: '#/components/schemas/Progress' } },
  },
};

const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const probe = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'ready', 'draining', 'degraded', 'unavailable'] },
    runtime: { type: 'string', description: 'healthz: the runtime kind' },
    store: { type: 'string', enum: ['sqlite', 'postgres'], description: 'readyz: the store kind; healthz: present when the store does not answer (or, several gateways, this one does not hear the others)' },
    reason: { type: 'string', description: 'why not, and what to do' },
    worker: {
      type: 'object',
      description: 'healthz, under `berth serve --workers N` only: which worker answered',
      properties: { id: { type: 'integer', description: 'the worker number, new for each worker started' }, pid: { type: 'integer' } },
    },
  },
};
const error = { description: 'error', ...json({ $ref: '#/components/schemas/Error' }) };

/** 200 with a JSON object of these properties, or 401. */
function okOr401(properties: object) {
  return { 200: { description: 'ok', ...json({ type: 'object', properties }) }, 401: error };
}

function adminAction(summary: string, status: number) {
  return {
    post: {
      summary,
      requestBody: { required: true, ...json({ type: 'object', required: ['user'], properties: { user: { type: 'string' } } }) },
      responses: { [status]: { description: 'done', ...json({ $ref: '#/components/schemas/Berth' }) }, 400: error, 403: error, 404: error },
    },
  };
}

export const openApiDocument = {
  openapi: '3.0.3',
  info: { title: 'Berth gateway API', version: '1' },
  servers: [{ url: '/_berth/api' }],
  components: {
    securitySchemes: {
      session: {
        type: 'apiKey',
        in: 'cookie',
        name: 'berth_session',
        description: 'A browser session (named __Host-berth_session when publicUrl is https): POST, PUT and DELETE also need the X-Berth-CSRF header, which the gateway pages send',
      },
      token: { type: 'http', scheme: 'bearer', description: 'A Berth token with scope "api" (POST /me/tokens)' },
      tokenHeader: { type: 'apiKey', in: 'header', name: 'X-Berth-Token', description: 'The same token in a header of its own' },
    },
    schemas: {
      Berth: berth,
      Progress: {
        type: 'object',
        properties: {
          step: { type: 'string', enum: ['queued', 'pulling', 'creating', 'starting', 'waiting', 'ready', 'failed', 'stopped'] },
          message: { type: 'string' },
          elapsedMs: { type: 'number' },
        },
      },
      Token: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          name: { type: 'string', nullable: true },
          scopes: { type: 'array', items: { type: 'string', enum: ['api', 'apps'] } },
          createdAt: { type: 'string', format: 'date-time' },
          expiresAt: { type: 'string', format: 'date-time', nullable: true },
          lastUsedAt: { type: 'string', format: 'date-time', nullable: true },
        },
      },
      Port: {
        type: 'object',
        properties: {
          port: { type: 'integer', minimum: 1, maximum: 65535 },
          url: { type: 'string', nullable: true, description: 'the per-port web address; null when apps.domain is not set' },
          share: { type: 'string', enum: ['owner', 'users', 'public'] },
          listening: { type: 'boolean' },
          loopbackOnly: { type: 'boolean', description: "the berth's server listens only on its own loopback (127.0.0.1 or ::1), as dev servers do by default; reached like any other" },
          unreachable: { type: 'string', description: 'present when this gateway cannot reach the listener (a loopback-only one where the gateway cannot enter the berth\'s network namespace): why, and what to do' },
        },
      },
      AuditEvent: {
        type: 'object',
        properties: {
          id: { type: 'string', description: 'increases with each event this store receives' },
          at: { type: 'string', format: 'date-time' },
          kind: { type: 'string', description: 'one of the documented kinds (README, "Audit log"), e.g. signin.succeeded, ssh.session.opened' },
          actor: { type: 'string', nullable: true, description: 'the username that acted; null when refused before anyone was named' },
          via: { type: 'string', nullable: true, description: 'how the actor authenticated: dev, header, oidc, token, an SSH method, or gateway' },
          source: { type: 'string', nullable: true, description: 'the peer address' },
          target: { type: 'string', nullable: true, description: 'the user whose berth, tokens, ports or session it concerns' },
          outcome: { type: 'string', enum: ['ok', 'refused', 'failed'] },
          detail: { type: 'object', additionalProperties: true, description: 'flat values that depend on the kind; never a secret' },
        },
      },
      Error: {
        type: 'object',
        properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
  },
  security: [{ session: [] }, { token: [] }, { tokenHeader: [] }],
  paths: {
    // Probes live beside the API, at /_berth/healthz and /_berth/readyz, answered without signing in.
    '/healthz': {
      servers: [{ url: '/_berth' }],
      get: {
        summary: 'Liveness: the gateway answers and its runtime, data directory and store are usable',
        security: [],
        responses: {
          200: { description: 'alive', ...json(probe) },
          503: { description: 'the runtime is unavailable, or (degraded) the data directory or the store is: ready berths are still served; with the reason', ...json(probe) },
        },
      },
    },
    '/readyz': {
      servers: [{ url: '/_berth' }],
      get: {
        summary: 'Readiness: the store answers and the gateway is not draining (it fails first on SIGTERM, while requests in flight finish)',
        security: [],
        responses: {
          200: { description: 'ready: send it requests', ...json(probe) },
          503: { description: 'draining, or the store does not answer, with the reason: send requests to another gateway', ...json(probe) },
        },
      },
    },
    '/me': {
      get: {
        summary: 'The signed-in user and their berth',
        responses: okOr401({
          user: { type: 'object', properties: { name: { type: 'string' }, admin: { type: 'boolean' } } },
          berth: { $ref: '#/components/schemas/Berth' },
        }),
      },
    },
    '/me/start': {
      post: {
        summary: 'Start the berth (returns at once); with a profile other than the running one, stop it first and start it from that profile (the home is kept)',
        requestBody: {
          required: false,
          ...json({
            type: 'object',
            description: 'both optional: without them, the profile last started (or the default)',
            properties: { profile: { type: 'string', nullable: true }, options: { type: 'object', additionalProperties: { type: 'string' }, description: 'option slug → choice slug' } },
          }),
        },
        responses: { 202: { description: 'starting', ...json({ $ref: '#/components/schemas/Berth' }) }, 400: error, 401: error, 403: { description: 'a profile or choice the user may not use; the message names the groups that may', ...json({ $ref: '#/components/schemas/Error' }) } },
      },
    },
    '/me/profiles': {
      get: {
        summary: 'The profiles the signed-in user may start, with their options (only the choices open to them), and the current one',
        responses: {
          200: {
            description: 'ok',
            ...json({
              type: 'object',
              properties: {
                profiles: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      slug: { type: 'string' },
                      displayName: { type: 'string' },
                      description: { type: 'string' },
                      default: { type: 'boolean' },
                      options: { type: 'array', items: { type: 'object', properties: { slug: { type: 'string' }, displayName: { type: 'string' }, choices: { type: 'array', items: { type: 'object' } } } } },
                    },
                  },
                },
                current: { type: 'object', nullable: true },
              },
            }),
          },
          401: error,
        },
      },
    },
    '/me/stop': { post: { summary: 'Stop the berth (its home is kept)', responses: { 200: { description: 'stopped', ...json({ $ref: '#/components/schemas/Berth' }) }, 401: error } } },
    '/me/restart': {
      post: { summary: 'Stop the berth if running, then start it (returns at once)', responses: { 202: { description: 'starting', ...json({ $ref: '#/components/schemas/Berth' }) }, 401: error } },
    },
    '/me/events': {
      get: {
        summary: "The berth's recent events (started, failed, stopped), newest first",
        responses: okOr401({
          events: {
            type: 'array',
            items: { type: 'object', properties: { at: { type: 'string', format: 'date-time' }, kind: { type: 'string' }, message: { type: 'string' } } },
          },
        }),
      },
    },
    '/me/progress': {
      get: {
        summary: 'Server-sent events: a `state` event, then `progress` events of the spawn',
        responses: { 200: { description: 'event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } } },
      },
    },
    '/berths/stop': adminAction('Stop the berth of {"user"} (admins only; its home is kept)', 200),
    '/berths/restart': adminAction('Stop, then start the berth of {"user"} (admins only; returns at once)', 202),
    '/me/tokens': {
      get: {
        summary: "The signed-in user's API tokens (never their secrets)",
        responses: { 200: { description: 'ok', ...json({ type: 'object', properties: { tokens: { type: 'array', items: { $ref: '#/components/schemas/Token' } } } }) }, 401: error },
      },
      post: {
        summary: 'Create a token; its secret is in this answer only',
        requestBody: json({
          type: 'object',
          required: ['scopes'],
          properties: {
            scopes: { type: 'array', items: { type: 'string', enum: ['api', 'apps'] }, description: 'api: this API; apps: app hosts, X-Berth-Token and tunnels' },
            expiresInSeconds: { type: 'integer', minimum: 1, nullable: true, description: 'null or absent: never expires' },
            name: { type: 'string', maxLength: 100 },
          },
        }),
        responses: {
          201: { description: 'created', ...json({ allOf: [{ $ref: '#/components/schemas/Token' }, { type: 'object', properties: { token: { type: 'string', description: 'the secret, "berth_…"' } } }] }) },
          400: error,
          401: error,
        },
      },
    },
    '/me/tokens/{id}': {
      delete: {
        summary: 'Revoke a token',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 204: { description: 'revoked' }, 404: error },
      },
    },
    '/me/ports': {
      get: {
        summary: 'TCP ports listening in the berth (read live from /proc/net/tcp and tcp6), and ports shared beyond their owner',
        responses: { 200: { description: 'ok', ...json({ type: 'object', properties: { ports: { type: 'array', items: { $ref: '#/components/schemas/Port' } } } }) }, 401: error },
      },
    },
    '/me/ports/{port}': {
      put: {
        summary: "Set a port's share level: owner (default), users (any signed-in user) or public (no sign-in)",
        parameters: [{ name: 'port', in: 'path', required: true, schema: { type: 'integer', minimum: 1, maximum: 65535 } }],
        requestBody: json({ type: 'object', required: ['share'], properties: { share: { type: 'string', enum: ['owner', 'users', 'public'] } } }),
        responses: {
          200: { description: 'ok', ...json({ type: 'object', properties: { port: { type: 'integer' }, share: { type: 'string' }, url: { type: 'string', nullable: true } } }) },
          400: error,
        },
      },
    },
    '/me/tunnel/{port}': {
      get: {
        summary: 'A WebSocket carrying one TCP connection to that port of the berth (berth forward); ?user=NAME for a port another user shares. With the session cookie instead of a token, the handshake must carry the gateway\'s exact Origin (403 otherwise)',
        parameters: [
          { name: 'port', in: 'path', required: true, schema: { type: 'integer', minimum: 1, maximum: 65535 } },
          { name: 'user', in: 'query', required: false, schema: { type: 'string' } },
        ],
        responses: { 101: { description: 'switching to WebSocket; binary frames are the TCP stream' }, 401: error, 403: error, 502: error },
      },
    },
    '/audit': {
      get: {
        summary: "Audit events, newest first: administrators read everyone's, others only those they did or that concern them",
        parameters: [
          { name: 'user', in: 'query', required: false, schema: { type: 'string' }, description: 'events this user did or that concern them; a non-admin naming anyone but themselves gets 403' },
          { name: 'kind', in: 'query', required: false, schema: { type: 'string' }, description: 'a kind, or a family ending in a dot: "ssh."' },
          { name: 'since', in: 'query', required: false, schema: { type: 'string', format: 'date-time' }, description: 'inclusive' },
          { name: 'until', in: 'query', required: false, schema: { type: 'string', format: 'date-time' }, description: 'exclusive' },
          { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
          { name: 'cursor', in: 'query', required: false, schema: { type: 'string' }, description: 'the nextCursor of the previous page' },
        ],
        responses: {
          200: {
            description: 'ok',
            ...json({
              type: 'object',
              properties: {
                events: { type: 'array', items: { $ref: '#/components/schemas/AuditEvent' } },
                nextCursor: { type: 'string', nullable: true, description: 'pass as cursor for the next (older) page; null on the last' },
              },
            }),
          },
          400: error,
          401: error,
          403: error,
        },
      },
    },
    '/me/terminal/tickets': {
      post: {
        summary: 'A single-use ticket (valid 60 s, for this session) that the terminal WebSocket must offer; {"user"} for another user\'s berth (admins, with terminal.adminAccess)',
        requestBody: json({ type: 'object', properties: { user: { type: 'string' } } }),
        responses: {
          201: { description: 'issued', ...json({ type: 'object', properties: { ticket: { type: 'string' }, user: { type: 'string' }, expiresInSeconds: { type: 'integer' } } }) },
          401: error,
          403: error,
        },
      },
    },
    '/me/terminal': {
      get: {
        summary:
          'The web terminal as a WebSocket: a shell in the berth (started first), shared by every tab that opens it and kept terminal.keepSeconds after the last one drops. The handshake needs the session cookie, the gateway\'s exact Origin and the subprotocols "berth.terminal" and "berth.ticket.<ticket>" (403 otherwise). Binary frames carry the screen and the keys; text frames are JSON: {"type":"resize","cols","rows"} and {"type":"close"} from the page; {"type":"attached"|"notice"|"exit"} to it',
        parameters: [
          { name: 'cols', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000 } },
          { name: 'rows', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 500 } },
          { name: 'user', in: 'query', required: false, schema: { type: 'string' }, description: "another user's berth (admins, with terminal.adminAccess)" },
        ],
        responses: { 101: { description: 'switching to WebSocket' }, 401: error, 403: error },
      },
    },
    '/recordings': {
      get: {
        summary: 'Session recordings, newest first: admins see everyone\'s (?user= filters), users their own',
        parameters: [{ name: 'user', in: 'query', required: false, schema: { type: 'string' } }],
        responses: {
          200: {
            description: 'ok',
            ...json({
              type: 'object',
              properties: {
                recordings: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      id: { type: 'string' },
                      user: { type: 'string' },
                      berth: { type: 'string' },
                      gateway: { type: 'string' },
                      kind: { type: 'string', enum: ['ssh', 'terminal'] },
                      startedAt: { type: 'string', format: 'date-time' },
                      durationSeconds: { type: 'number' },
                      bytes: { type: 'integer' },
                    },
                  },
                },
              },
            }),
          },
          401: error,
          403: error,
        },
      },
    },
    '/recordings/{id}': {
      get: {
        summary: 'One recording as an asciicast v2 file (output, resizes as "r", input only with recording.input, a final "m" marker when it reached recording.maxBytes)',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 200: { description: 'the recording', content: { 'application/x-asciicast': { schema: { type: 'string' } } } }, 401: error, 404: error },
      },
    },
    '/berths': {
      get: {
        summary: 'Every berth (admins only)',
        responses: {
          200: { description: 'ok', ...json({ type: 'object', properties: { berths: { type: 'array', items: { $ref: '#/components/schemas/Berth' } } } }) },
          403: error,
        },
      },
    },
    '/images': {
      get: {
        summary: 'The images berths are made from (the template, each profile and choice), pulled in the background when the gateway starts (admins only)',
        responses: {
          200: {
            description: 'ok',
            ...json({
              type: 'object',
              properties: {
                images: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      image: { type: 'string' },
                      state: { type: 'string', enum: ['queued', 'pulling', 'present', 'pulled', 'failed'] },
                      message: { type: 'string', description: "the last progress line, or the engine's reason for a failure" },
                      attempts: { type: 'integer' },
                      at: { type: 'string', format: 'date-time', description: 'when the state last changed' },
                      retryAt: { type: 'string', format: 'date-time', nullable: true, description: 'the next attempt after a failure (back-off doubling from 5 s to 5 min)' },
                    },
                  },
                },
              },
            }),
          },
          403: error,
        },
      },
    },
  },
};

/** The gateway API's description, served at /_berth/api/openapi.json. Keep it in step with ./routes.ts. */
const berth = {
  type: 'object',
  properties: {
    user: { type: 'string' },
    name: { type: 'string', description: 'safe name: the berth in the runtime' },
    state: { type: 'string', enum: ['stopped', 'starting', 'ready', 'stopping', 'failed'] },
    since: { type: 'string', format: 'date-time' },
    startedAt: { type: 'string', format: 'date-time', nullable: true },
    lastActivity: { type: 'string', format: 'date-time', nullable: true },
    idleStopAt: { type: 'string', format: 'date-time', nullable: true },
    image: { type: 'string', nullable: true },
    failure: {
      type: 'object',
      nullable: true,
      properties: { reason: { type: 'string' }, exitCode: { type: 'integer', nullable: true }, logTail: { type: 'array', items: { type: 'string' } } },
    },
    progress: { type: 'array', items: { $ref: '#/components/schemas/Progress' } },
  },
};

const json = (schema: object) => ({ content: { 'application/json': { schema } } });
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
        description: 'A browser session: POST, PUT and DELETE also need the X-Berth-CSRF header, which the gateway pages send',
      },
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
      Error: {
        type: 'object',
        properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
  },
  security: [{ session: [] }],
  paths: {
    '/me': {
      get: {
        summary: 'The signed-in user and their berth',
        responses: okOr401({
          user: { type: 'object', properties: { name: { type: 'string' }, admin: { type: 'boolean' } } },
          berth: { $ref: '#/components/schemas/Berth' },
        }),
      },
    },
    '/me/start': { post: { summary: 'Start the berth (returns at once)', responses: { 202: { description: 'starting', ...json({ $ref: '#/components/schemas/Berth' }) }, 401: error } } },
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
    '/berths': {
      get: {
        summary: 'Every berth (admins only)',
        responses: {
          200: { description: 'ok', ...json({ type: 'object', properties: { berths: { type: 'array', items: { $ref: '#/components/schemas/Berth' } } } }) },
          403: error,
        },
      },
    },
  },
};

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

export const openApiDocument = {
  openapi: '3.0.3',
  info: { title: 'Berth gateway API', version: '1' },
  servers: [{ url: '/_berth/api' }],
  components: {
    securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'berth_session' } },
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
        responses: {
          200: {
            description: 'ok',
            ...json({
              type: 'object',
              properties: {
                user: { type: 'object', properties: { name: { type: 'string' }, admin: { type: 'boolean' } } },
                berth: { $ref: '#/components/schemas/Berth' },
              },
            }),
          },
          401: error,
        },
      },
    },
    '/me/start': { post: { summary: 'Start the berth (returns at once)', responses: { 202: { description: 'starting', ...json({ $ref: '#/components/schemas/Berth' }) }, 401: error } } },
    '/me/stop': { post: { summary: 'Stop the berth (its home is kept)', responses: { 200: { description: 'stopped', ...json({ $ref: '#/components/schemas/Berth' }) }, 401: error } } },
    '/me/progress': {
      get: {
        summary: 'Server-sent events: a `state` event, then `progress` events of the spawn',
        responses: { 200: { description: 'event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } } },
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
  },
};

import { NO_AUDIT, type AuditRecorder } from '../../audit/kinds.js';
import { TOKEN_SCOPES, type Tokens } from '../../auth/token/tokens.js';
import { BerthError } from '../../core/errors.js';
import type { Store, StoredToken, TokenScope } from '../../store/store.js';
import { readJsonBody, sendJson } from '../respond.js';
import type { Route } from '../routes.js';
import { requester } from './requester.js';

const PATH = '/_berth/api/me/tokens';
/** A bound so one account cannot fill the database. */
const MAX_TOKENS_PER_USER = 50;
const MAX_NAME_LENGTH = 100;
const MAX_EXPIRY_SECONDS = 366 * 24 * 3600;

/**
 * The signed-in user's API tokens: GET lists them (never the secret), POST
 * creates one and shows its secret once, DELETE /<id> revokes one.
 */
export function tokenRoutes(store: Store, tokens: Tokens, audit: AuditRecorder = NO_AUDIT): Route[] {
  return [
    {
      method: 'GET',
      path: PATH,
      access: 'user',
      handler: async ({ res, user }) => sendJson(res, 200, { tokens: (await store.listTokens(user.name)).map(tokenView) }),
    },
    {
      method: 'POST',
      path: PATH,
      access: 'user',
      handler: async (context) => {
        const { req, res, user } = context;
        const wanted = readNewToken(await readJsonBody(req));
        if ((await store.listTokens(user.name)).length >= MAX_TOKENS_PER_USER) {
          throw new BerthError({ code: 'bad_request', userMessage: `You have ${MAX_TOKENS_PER_USER} tokens, the most allowed; revoke one you no longer use first.` });
        }
        const { token, secret } = await tokens.create(user.name, wanted);
        audit.record({ kind: 'token.created', ...requester(context), target: user.name, outcome: 'ok', detail: { token: token.id, scopes: token.scopes.join(','), name: token.name } });
        const { lastUsedAt: _unused, ...shown } = tokenView(token);
        sendJson(res, 201, { ...shown, token: secret });
      },
    },
    {
      method: 'DELETE',
      path: `${PATH}/:id`,
      access: 'user',
      handler: async (context) => {
        const { res, user, params } = context;
        // Someone else's token id reads as absent: ids must not reveal which tokens exist.
        if (!(await store.deleteToken(user.name, params.id as string))) {
          throw new BerthError({ code: 'not_found', userMessage: `You have no token with id ${params.id}; GET ${PATH} lists yours.` });
        }
        audit.record({ kind: 'token.revoked', ...requester(context), target: user.name, outcome: 'ok', detail: { token: params.id as string } });
        res.writeHead(204, { 'cache-control': 'no-store' }).end();
      },
    },
  ];
}

function readNewToken(body: unknown) {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const { scopes, expiresInSeconds, name } = fields;
  const usage = `Send {"scopes": ["api"|"apps", …], "expiresInSeconds": 1 to ${MAX_EXPIRY_SECONDS} or null, "name"?: "laptop"}.`;
  if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => TOKEN_SCOPES.includes(s as TokenScope))) {
    throw new BerthError({ code: 'bad_request', userMessage: `Name the token's scopes: "api" for the gateway's API, "apps" for app hosts and tunnels. ${usage}` });
  }
  const expiry = expiresInSeconds ?? null;
  if (expiry !== null && !(Number.isInteger(expiry) && (expiry as number) >= 1 && (expiry as number) <= MAX_EXPIRY_SECONDS)) {
    throw new BerthError({ code: 'bad_request', userMessage: `expiresInSeconds must be a whole number of seconds. ${usage}` });
  }
  if (name !== undefined && name !== null && (typeof name !== 'string' || name.length > MAX_NAME_LENGTH)) {
    throw new BerthError({ code: 'bad_request', userMessage: `name must be text of at most ${MAX_NAME_LENGTH} characters. ${usage}` });
  }
  return { scopes: scopes as TokenScope[], expiresInSeconds: expiry as number | null, name: (name as string | undefined) ?? null };
}

function tokenView(token: StoredToken) {
  return {
    id: token.id,
    name: token.name,
    scopes: token.scopes,
    createdAt: new Date(token.createdAt).toISOString(),
    expiresAt: token.expiresAt === null ? null : new Date(token.expiresAt).toISOString(),
    lastUsedAt: token.lastUsedAt === null ? null : new Date(token.lastUsedAt).toISOString(),
  };
}

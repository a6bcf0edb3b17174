import { BerthError } from '../../core/errors.js';
import { authorizedKeyLine, readPublicKey, type KeyProblem } from '../../ssh/keys.js';
import type { SshKey, Store } from '../../store/store.js';
import { readJsonBody, sendJson } from '../respond.js';
import type { Route, RouteContext } from '../routes.js';

const PATH = '/_berth/api/me/keys';
/** Enough for every laptop and token a person has; a bound so one account cannot fill the database. */
const MAX_KEYS_PER_USER = 50;
const MAX_COMMENT_LENGTH = 200;

const PROBLEMS: Record<KeyProblem, string> = {
  private_key:
    'That is a private key: never send it anywhere, and consider it exposed. Send the public key instead, the contents of the .pub file (e.g. ~/.ssh/id_ed25519.pub).',
  unsupported:
    'That is not a public key in authorized_keys form, e.g. "ssh-ed25519 AAAA… you@laptop" (the contents of a .pub file, without options). Supported types: ed25519, ECDSA, RSA.',
  weak: 'That key type is too weak (DSA, or RSA below 2048 bits). Make a new key with: ssh-keygen -t ed25519',
};

/**
 * The signed-in user's SSH public keys: GET lists them, POST {"key": "…"}
 * adds one, DELETE ?id=N (or {"id": N}) removes one. Keys added here log in
 * to the user's own berth over SSH.
 */
export function keyRoutes(store: Store): Route[] {
  return [
    {
      method: 'GET',
      path: PATH,
      access: 'user',
      handler: async ({ res, user }) => sendJson(res, 200, { keys: (await store.listSshKeys(user.name)).map(keyView) }),
    },
    { method: 'POST', path: PATH, access: 'user', handler: (context) => addKey(store, context) },
    { method: 'DELETE', path: PATH, access: 'user', handler: (context) => deleteKey(store, context) },
  ];
}

async function addKey(store: Store, { req, res, user }: RouteContext): Promise<void> {
  const text = field(await readJsonBody(req), 'key');
  if (typeof text !== 'string' || text.trim() === '') {
    throw new BerthError({ code: 'bad_request', userMessage: 'Send {"key": "ssh-ed25519 AAAA… you@laptop"}, the contents of your .pub file.' });
  }
  const result = readPublicKey(text.trim());
  if ('problem' in result) {
    throw new BerthError({ code: 'bad_request', userMessage: PROBLEMS[result.problem], logMessage: `ssh key of ${user.name} refused: ${result.problem}` });
  }
  const { key } = result;
  const existing = await store.listSshKeys(user.name);
  if (existing.length >= MAX_KEYS_PER_USER && !existing.some((k) => k.fingerprint === key.fingerprint)) {
    throw new BerthError({ code: 'bad_request', userMessage: `You have ${existing.length} keys, the most allowed; delete one you no longer use first.` });
  }
  const comment = key.comment.slice(0, MAX_COMMENT_LENGTH);
  const stored = await store.addSshKey({
    user: user.name,
    publicKey: authorizedKeyLine({ ...key, comment }),
    fingerprint: key.fingerprint,
    comment,
    createdAt: Date.now(),
  });
  sendJson(res, stored.created ? 201 : 200, keyView(stored.key));
}

async function deleteKey(store: Store, { req, res, url, user }: RouteContext): Promise<void> {
  const fromQuery = url.searchParams.get('id');
  const raw = fromQuery ?? field(await readJsonBody(req), 'id');
  const id = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id)) {
    throw new BerthError({ code: 'bad_request', userMessage: `Say which key to delete: ${PATH}?id=N, with N from GET ${PATH}.` });
  }
  // Someone else's key id reads as absent: ids must not reveal which keys exist.
  if (!(await store.deleteSshKey(user.name, id))) {
    throw new BerthError({ code: 'not_found', userMessage: `You have no SSH key with id ${id}; GET ${PATH} lists yours.` });
  }
  sendJson(res, 200, { deleted: id });
}

function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
}

function keyView(key: SshKey) {
  return {
    id: key.id,
    type: key.publicKey.split(' ')[0],
    fingerprint: key.fingerprint,
    comment: key.comment,
    publicKey: key.publicKey,
    createdAt: new Date(key.createdAt).toISOString(),
  };
}

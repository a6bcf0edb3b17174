import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ssh2, { type ParsedKey } from 'ssh2';
import type { Config } from '../config/schema.js';
import { BerthError, storageFailure } from '../core/errors.js';
import { writeFileAtomically } from '../store/atomicFile.js';
import type { Store } from '../store/store.js';
import { parsePublicKey, type PublicKeyInfo } from './keys.js';

export interface HostKey {
  /** The private key in OpenSSH format, as ssh2's Server takes it. */
  privateKey: string;
  public: PublicKeyInfo;
  path: string;
}

/** How many fresh pairs to try before giving up on one ssh2 can read back. */
const KEYGEN_TRIES = 8;

/**
 * A new pair that ssh2 itself can parse again. Its ed25519 generator drops the
 * leading zero bytes of a public key that starts with one (about 1 in 256
 * pairs, mscdex/ssh2#1513), leaving a key that no later start can load; such a
 * pair is thrown away before it is ever written.
 */
export function parsablePair(generate: () => { private: string; public: string }): { private: string; public: string } {
  for (let i = 0; i < KEYGEN_TRIES; i++) {
    const pair = generate();
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error) && !(ssh2.utils.parseKey(pair.public) instanceof Error)) return pair;
  }
  throw new Error(`ssh2 made ${KEYGEN_TRIES} host keys in a row that it cannot read back`);
}

/** The kinds of host key the gateway holds; ed25519 first, since clients take the first they accept. */
const KINDS = [
  { file: 'ssh_host_ed25519_key', generate: () => parsablePair(() => ssh2.utils.generateKeyPairSync('ed25519', { comment: 'berth' })) },
  { file: 'ssh_host_rsa_key', generate: () => parsablePair(() => ssh2.utils.generateKeyPairSync('rsa', { bits: 3072, comment: 'berth' })) },
];

/**
 * The gateway's host keys, kept in <dataDir>/ssh and created on first use:
 * a changed host key makes every client warn of an attack, so once made they
 * are never replaced. Private keys are 0600 in a 0700 directory, and the .pub
 * beside each is for operators (ssh-keygen -lf, known_hosts lines). Both are
 * written atomically, so a crash or a full disk leaves no key, never half of
 * one; an empty or cut-short key an older version left that way (one no client
 * can have seen) is made anew.
 */
export function loadHostKeys(dataDir: string): HostKey[] {
  const dir = join(dataDir, 'ssh');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw storageFailure(err, dir) ?? err;
  }
  return KINDS.map(({ file, generate }) => {
    const path = join(dir, file);
    const privateKey = readOrCreate(path, generate);
    return { privateKey, public: publicOf(privateKey, path), path };
  });
}

const END_MARKER = /-----END [A-Z ]*PRIVATE KEY-----\s*$/;

/**
 * The host keys this gateway serves: on a PostgreSQL store the ones kept in
 * the store, so every gateway on it shows clients the same key (made on first
 * start, from the files in <dataDir>/ssh when an install moved from SQLite has
 * them, so its users' known_hosts stay valid); on SQLite the files, as
 * loadHostKeys keeps them.
 */
export async function gatewayHostKeys(config: Config, store: Pick<Store, 'sharedSecret'>): Promise<HostKey[]> {
  if (config.store.kind !== 'postgres') return loadHostKeys(config.dataDir);
  const dir = join(config.dataDir, 'ssh');
  return Promise.all(
    KINDS.map(async ({ file, generate }) => {
      const path = join(dir, file);
      const privateKey = await store.sharedSecret(file, () => readIfPresent(path) ?? generate().private);
      return { privateKey, public: publicOf(privateKey, `the store's ${file}`), path: `store:${file}` };
    }),
  );
}

/** A whole key file's text, else null: a missing or cut-short file never seeds the store. */
function readIfPresent(path: string): string | null {
  try {
    const text = readFileSync(path, 'utf8');
    return END_MARKER.test(text) ? text : null;
  } catch {
    return null;
  }
}

function readOrCreate(path: string, generate: () => { private: string; public: string }): string {
  let cutShort = false;
  try {
    const text = readFileSync(path, 'utf8');
    // Earlier copies or restores may have widened it; a readable host key lets anyone impersonate the gateway.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    if (END_MARKER.test(text)) return text;
    // Without its last line the key never loaded, so no client knows it: making a new one warns nobody.
    cutShort = text.trim() === '' || text.startsWith('-----BEGIN ');
    if (!cutShort) return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw unusable(path, err);
  }
  const pair = generate();
  try {
    // Two gateways starting on one data directory at once must not overwrite each other's key.
    if (!writeFileAtomically(path, pair.private, { mode: 0o600, replace: cutShort })) return readFileSync(path, 'utf8');
    writeFileAtomically(`${path}.pub`, `${pair.public}\n`, { mode: 0o644, replace: true });
    return pair.private;
  } catch (err) {
    throw storageFailure(err, path) ?? unusable(path, err);
  }
}

function publicOf(privateKey: string, path: string): PublicKeyInfo {
  const parsed = ssh2.utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
  const info = key === undefined || key instanceof Error ? null : parsePublicKey(key.getPublicSSH());
  if (info === null) throw unusable(path, key instanceof Error ? key : new Error('not a supported host key type'));
  return info;
}

function unusable(path: string, cause: unknown): BerthError {
  return new BerthError({
    code: 'config_invalid',
    userMessage: `The SSH host key ${path} cannot be used (${cause instanceof Error ? cause.message : 'unreadable'}); fix its permissions, or move it away to have a new one made (clients will then warn that the host key changed).`,
    cause,
  });
}

/** "SHA256:… (ED25519)": the fingerprint and kind as `ssh-keygen -l` and the first-connection prompt show them. */
export function hostKeyFingerprints(keys: readonly HostKey[]): string[] {
  return keys.map((k) => `${k.public.fingerprint} (${kindOf(k.public.type)})`);
}

function kindOf(type: string): string {
  if (type === 'ssh-ed25519') return 'ED25519';
  if (type === 'ssh-rsa') return 'RSA';
  return type.startsWith('ecdsa-') ? 'ECDSA' : type;
}

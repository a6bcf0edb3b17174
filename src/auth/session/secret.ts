import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Config } from '../../config/schema.js';
import { BerthError, storageFailure } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';
import type { Store } from '../../store/store.js';
import { writeFileAtomically } from '../../store/atomicFile.js';

const MIN_LENGTH = 32;
/** What the generator writes: nothing but hex, so a shorter run of hex is a key cut short, not an operator's choice. */
const GENERATED = /^[0-9a-f]*$/;
/** Its name among the store's shared secrets. */
const STORE_NAME = 'session_secret';

/**
 * The secret that signs sessions and CSRF tokens: auth.sessionSecret when set;
 * else, on a PostgreSQL store, the one kept in the store, which every gateway
 * on it shares (made on first start, from <dataDir>/session.key when an
 * install moved from SQLite has one, so its cookies stay valid); else a
 * random one generated once into <dataDir>/session.key so a restart does not
 * sign everyone out. The file holds hex text, so its content can be copied
 * into auth.sessionSecret as is. It is written atomically; an empty or
 * cut-short key that an older version left after a crash or a full disk is
 * replaced (which only signs people out).
 */
export async function loadSessionSecret(config: Config, logger: Logger, store?: Pick<Store, 'sharedSecret'>): Promise<string> {
  if (config.auth.sessionSecret !== null) return config.auth.sessionSecret;
  if (config.store.kind === 'postgres') {
    if (store === undefined) throw new Error('a PostgreSQL store keeps the session secret: open the store before the authenticator');
    const fromFile = await readSecretFile(join(resolve(config.dataDir), 'session.key'));
    return store.sharedSecret(STORE_NAME, () => fromFile ?? randomBytes(32).toString('hex'));
  }
  const dir = resolve(config.dataDir);
  const path = join(dir, 'session.key');
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Never overwrites a key another gateway or an earlier run created.
    if (writeFileAtomically(path, newSecret(), { mode: 0o600 })) logger.info({ path }, 'generated a new session secret');
    let secret = (await readFile(path, 'utf8')).trim();
    if (secret.length < MIN_LENGTH && GENERATED.test(secret)) {
      writeFileAtomically(path, newSecret(), { mode: 0o600, replace: true });
      logger.warn({ path, length: secret.length }, 'the session secret was empty or cut short (a crash or a full disk while it was first written); made a new one, so everyone signs in again');
      secret = (await readFile(path, 'utf8')).trim();
    }
    await warnIfShared(path, logger);
    if (secret.length < MIN_LENGTH) {
      throw new BerthError({
        code: 'config_invalid',
        userMessage: `${path} does not hold a usable session secret: delete it and start again (everyone signs in again), or set auth.sessionSecret.`,
        logMessage: `${path} holds ${secret.length} characters, expected at least ${MIN_LENGTH}`,
      });
    }
    return secret;
  } catch (err) {
    throw storageFailure(err, path) ?? err;
  }
}

function newSecret(): string {
  return `${randomBytes(32).toString('hex')}\n`;
}

/** The file's secret when it holds a usable one, else null: seeding the store never fails on a stray file. */
async function readSecretFile(path: string): Promise<string | null> {
  const text = await readFile(path, 'utf8').then((t) => t.trim(), () => '');
  return text.length >= MIN_LENGTH ? text : null;
}

async function warnIfShared(path: string, logger: Logger): Promise<void> {
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) {
    logger.warn({ path, mode: (mode & 0o777).toString(8) }, 'the session secret is readable by other users: chmod 600 it');
  }
}

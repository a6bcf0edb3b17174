import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSessionSecret } from '../auth/session/secret.js';
import { maskUrlPassword } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { BerthError } from '../core/errors.js';
import { createLogger } from '../log/logger.js';
import { gatewayHostKeys, hostKeyFingerprints, loadHostKeys } from '../ssh/hostKeys.js';
import { copyStore, type CopiedTable } from '../store/copy.js';
import { Store } from '../store/store.js';

const LABELS: Record<CopiedTable, string> = {
  users: 'users',
  activity: 'activity clocks',
  ssh_keys: 'SSH keys',
  tokens: 'API tokens',
  shares: 'port shares',
  events: 'events',
  audit: 'audit events',
};

/**
 * `berth store copy --to postgres://…`: the SQLite store in dataDir, copied
 * into an empty PostgreSQL database, and the install's session secret and SSH
 * host keys put into it, so gateways on it keep everyone's cookies and
 * known_hosts valid. Returns what it copied, for the operator.
 */
export async function storeCopy(config: Config, to: string): Promise<string> {
  if (!/^postgres(ql)?:\/\//.test(to)) {
    throw new BerthError({ code: 'bad_request', userMessage: `--to expects a postgres:// URL, e.g. postgres://berth@db.example.org/berth (got ${maskUrlPassword(to)}).` });
  }
  if (!existsSync(join(config.dataDir, 'berth.db'))) {
    throw new BerthError({
      code: 'bad_request',
      userMessage: `There is no SQLite store at ${join(config.dataDir, 'berth.db')}: point dataDir (or --config) at the install to copy.`,
    });
  }
  const target: Config = { ...config, store: { kind: 'postgres', url: to, urlFile: null } };
  const from = await Store.open(config.dataDir);
  try {
    const into = await Store.open(config.dataDir, target.store);
    try {
      const counts = await copyStore(from, into);
      const lines = [
        `Copied ${join(config.dataDir, 'berth.db')} to ${maskUrlPassword(to)}:`,
        ...Object.entries(counts).map(([table, n]) => `  ${n} ${LABELS[table as CopiedTable]}`),
        ...(await copySecrets(target, into)),
        '',
        `Now set store.kind: postgres and store.url (or store.urlFile, or the PG* variables) on every gateway.`,
        '',
      ];
      return lines.join('\n');
    } finally {
      await into.close();
    }
  } finally {
    await from.close();
  }
}

/** The install's secrets into the store: taken from its files unless the store already keeps its own. */
async function copySecrets(target: Config, into: Store): Promise<string[]> {
  const lines: string[] = [];
  const keyFile = join(target.dataDir, 'session.key');
  if (target.auth.sessionSecret === null && existsSync(keyFile)) {
    const stored = await loadSessionSecret(target, createLogger('silent'), into);
    lines.push(
      stored === readFileSync(keyFile, 'utf8').trim()
        ? '  the session secret (session.key): signed-in users stay signed in'
        : '  not the session secret: the store already keeps another one, so users sign in again',
    );
  }
  if (existsSync(join(target.dataDir, 'ssh'))) {
    const files = hostKeyFingerprints(loadHostKeys(target.dataDir));
    const stored = hostKeyFingerprints(await gatewayHostKeys(target, into));
    lines.push(
      files.join() === stored.join()
        ? `  the SSH host keys (${files.join(', ')})`
        : '  not the SSH host keys: the store already keeps others, so clients will warn that the host key changed',
    );
  }
  return lines;
}

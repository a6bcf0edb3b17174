import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, type StoreOptions } from '../../src/store/store.js';
import { postgresForTests } from './postgres.js';

/** One kind of store the store's tests run against: each opened() gets an empty store of its own. */
export interface StoreKind {
  name: 'sqlite' | 'postgres';
  /** Options for an empty store, and its data directory (which SQLite keeps berth.db in). */
  fresh(): Promise<{ dataDir: string; options: StoreOptions }>;
}

const dirs: string[] = [];
process.on('exit', () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  dirs.push(dir);
  return dir;
}

/**
 * SQLite always, and PostgreSQL on a throwaway cluster when it is installed
 * (else a test that skips, or fails in CI): a suite written once with
 * `for (const kind of await storeKinds(...)) describe(kind.name, …)` runs on both.
 */
export async function storeKinds(what: string): Promise<StoreKind[]> {
  const kinds: StoreKind[] = [{ name: 'sqlite', fresh: async () => ({ dataDir: dataDir(), options: { kind: 'sqlite', url: null, urlFile: null } }) }];
  const cluster = await postgresForTests(what);
  if (cluster !== null) {
    kinds.push({
      name: 'postgres',
      fresh: async () => ({ dataDir: dataDir(), options: { kind: 'postgres', url: await cluster.freshDatabase(), urlFile: null } }),
    });
  }
  return kinds;
}

/** An empty store of this kind; close it when done. */
export async function openFresh(kind: StoreKind): Promise<Store> {
  const { dataDir, options } = await kind.fresh();
  return Store.open(dataDir, options);
}

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSessionSecret } from '../../src/auth/session/secret.js';
import { safeName } from '../../src/core/safeName.js';
import { createLogger } from '../../src/log/logger.js';
import { gatewayHostKeys, hostKeyFingerprints, loadHostKeys } from '../../src/ssh/hostKeys.js';
import { Store } from '../../src/store/store.js';
import { testConfig } from '../helpers/gatewayParts.js';
import { postgresForTests } from '../helpers/postgres.js';
import { CLI } from '../helpers/serve.js';

const cluster = await postgresForTests('berth store copy');

function berth(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

if (cluster !== null) {
  describe('berth store copy', () => {
    it('copies an SQLite install into an empty PostgreSQL database, says what it copied, and refuses a second time', { timeout: 120_000 }, async () => {
      const sqlite = testConfig();
      const old = await Store.open(sqlite.dataDir);
      await old.rememberUser('alice');
      await old.rememberUser('Bob.Smith');
      await old.saveActivity(new Map([['alice', Date.UTC(2039, 5, 1)]]));
      const { key } = await old.addSshKey({ user: 'alice', publicKey: 'ssh-ed25519 AAAA a@l', fingerprint: 'SHA256:a', comment: 'a@l', createdAt: 1 });
      await old.addSshKey({ user: 'Bob.Smith', publicKey: 'ssh-ed25519 BBBB b@l', fingerprint: 'SHA256:b', comment: 'b@l', createdAt: 2 });
      await old.addToken({ id: 't1', user: 'alice', name: null, scopes: ['api'], createdAt: 3, expiresAt: Date.UTC(2040, 0, 1), lastUsedAt: null }, 'h1');
      await old.setShare('alice', 8080, 'public');
      await old.addEvents(Array.from({ length: 700 }, (_, i) => ({ user: `u${i % 7}`, at: i, kind: 'ready', message: `e${i}` })));
      await old.close();
      const secret = await loadSessionSecret(sqlite, createLogger('silent'));
      const fingerprints = hostKeyFingerprints(loadHostKeys(sqlite.dataDir));

      const url = new URL(await cluster.freshDatabase());
      url.password = 'hunter2-not-logged';
      const env = { BERTH_DATA_DIR: sqlite.dataDir, BERTH_LOG_LEVEL: 'silent' };
      const copy = berth(['store', 'copy', '--to', url.toString()], env);
      assert.equal(copy.status, 0, copy.stderr);
      assert.doesNotMatch(copy.stdout + copy.stderr, /hunter2/);
      for (const line of ['2 users', '1 activity clocks', '2 SSH keys', '1 API tokens', '1 port shares', '700 events', 'the session secret', ...fingerprints]) {
        assert.ok(copy.stdout.includes(line), `prints ${line}:\n${copy.stdout}`);
      }

      const moved = { ...sqlite, store: { kind: 'postgres' as const, url: url.toString(), urlFile: null } };
      // A gateway with a data directory of its own: everything must come from the store.
      const elsewhere = testConfig({ BERTH_STORE_KIND: 'postgres', BERTH_STORE_URL: moved.store.url });
      const store = await Store.open(elsewhere.dataDir, elsewhere.store);
      try {
        assert.equal(await store.userBySafeName(safeName('Bob.Smith')), 'Bob.Smith');
        assert.deepEqual(await store.loadActivity(), new Map([['alice', Date.UTC(2039, 5, 1)]]));
        assert.deepEqual(await store.listSshKeys('alice'), [key]);
        assert.equal((await store.tokenByHash('h1'))?.expiresAt, Date.UTC(2040, 0, 1));
        assert.equal(await store.share('alice', 8080), 'public');
        assert.equal((await store.recentEvents('u3', 1000)).length, 100);
        const added = await store.addSshKey({ user: 'carol', publicKey: 'ssh-ed25519 CCCC c@l', fingerprint: 'SHA256:c', comment: 'c@l', createdAt: 4 });
        assert.ok(added.key.id > key.id + 1, 'new ids follow the copied ones');
        assert.equal(await loadSessionSecret(elsewhere, createLogger('silent'), store), secret);
        assert.deepEqual(hostKeyFingerprints(await gatewayHostKeys(elsewhere, store)), fingerprints);
      } finally {
        await store.close();
      }

      const again = berth(['store', 'copy', '--to', url.toString()], env);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /already has \d+ rows in users: copy into a new, empty database/);
      assert.doesNotMatch(again.stderr, /hunter2/);
      assert.equal(readFileSync(join(sqlite.dataDir, 'session.key'), 'utf8').trim(), secret, 'the SQLite install is left as it was');
    });

    it('refuses a --to that is not a postgres:// URL, and a data directory with no store', () => {
      const empty = testConfig();
      const notPostgres = berth(['store', 'copy', '--to', 'mysql://root:pw@127.0.0.1/x'], { BERTH_DATA_DIR: empty.dataDir });
      assert.equal(notPostgres.status, 1);
      assert.match(notPostgres.stderr, /--to expects a postgres:\/\/ URL/);
      assert.doesNotMatch(notPostgres.stderr, /:pw@/);
      const noStore = berth(['store', 'copy', '--to', 'postgres://127.0.0.1/x'], { BERTH_DATA_DIR: empty.dataDir });
      assert.equal(noStore.status, 1);
      assert.match(noStore.stderr, /There is no SQLite store at .*berth\.db: point dataDir/);
      const noTo = berth(['store', 'copy'], { BERTH_DATA_DIR: empty.dataDir });
      assert.equal(noTo.status, 1);
      assert.match(noTo.stderr, /store copy needs --to/);
    });
  });
}

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSessionSecret } from '../../src/auth/session/secret.js';
import { createLogger } from '../../src/log/logger.js';
import { gatewayHostKeys, hostKeyFingerprints, loadHostKeys } from '../../src/ssh/hostKeys.js';
import { Store } from '../../src/store/store.js';
import { testConfig } from '../helpers/gatewayParts.js';
import { postgresForTests } from '../helpers/postgres.js';

/*
 * Two gateways on one PostgreSQL store, each with a data directory of its
 * own, must sign and verify the same cookies and show SSH clients the same
 * host key; an install moving from SQLite keeps the secrets its files hold.
 */

const cluster = await postgresForTests('shared secrets');
const logger = createLogger('silent');

if (cluster !== null) {
  describe('secrets shared through a PostgreSQL store', () => {
    it('gives two gateways with separate data directories one session secret and one set of host keys', async () => {
      const url = await cluster.freshDatabase();
      const [a, b] = [1, 2].map(() => testConfig({ BERTH_STORE_KIND: 'postgres', BERTH_STORE_URL: url }));
      const stores = await Promise.all([a, b].map((c) => Store.open(c!.dataDir, c!.store)));
      try {
        const secrets = await Promise.all([a, b].map((c, i) => loadSessionSecret(c!, logger, stores[i])));
        assert.equal(secrets[0], secrets[1]);
        assert.ok((secrets[0] ?? '').length >= 32);
        const keys = await Promise.all([a, b].map((c, i) => gatewayHostKeys(c!, stores[i]!)));
        assert.deepEqual(hostKeyFingerprints(keys[0]!), hostKeyFingerprints(keys[1]!));
        assert.equal(keys[0]?.length, 2);
        for (const c of [a, b]) {
          assert.equal(existsSync(join(c!.dataDir, 'session.key')), false, 'no file on PostgreSQL');
          assert.equal(existsSync(join(c!.dataDir, 'ssh')), false, 'no key files on PostgreSQL');
        }
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('takes an existing SQLite install\'s session.key and host key files on first start, so its cookies and known_hosts stay valid', async () => {
      const sqlite = testConfig();
      const oldSecret = await loadSessionSecret(sqlite, logger);
      const oldFingerprints = hostKeyFingerprints(loadHostKeys(sqlite.dataDir));
      const moved = { ...sqlite, store: { kind: 'postgres' as const, url: await cluster.freshDatabase(), urlFile: null } };
      const other = testConfig({ BERTH_STORE_KIND: 'postgres', BERTH_STORE_URL: moved.store.url });
      const store = await Store.open(moved.dataDir, moved.store);
      try {
        assert.equal(await loadSessionSecret(moved, logger, store), oldSecret);
        assert.deepEqual(hostKeyFingerprints(await gatewayHostKeys(moved, store)), oldFingerprints);
        // A second gateway, with no files of its own, gets the moved install's secrets from the store.
        assert.equal(await loadSessionSecret(other, logger, store), oldSecret);
        assert.deepEqual(hostKeyFingerprints(await gatewayHostKeys(other, store)), oldFingerprints);
      } finally {
        await store.close();
      }
    });

    it('never seeds the store from a cut-short host key or session.key file: it makes new ones', async () => {
      const config = testConfig({ BERTH_STORE_KIND: 'postgres', BERTH_STORE_URL: await cluster.freshDatabase() });
      mkdirSync(join(config.dataDir, 'ssh'), { recursive: true });
      writeFileSync(join(config.dataDir, 'ssh', 'ssh_host_ed25519_key'), '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA', { mode: 0o600 });
      writeFileSync(join(config.dataDir, 'session.key'), 'abc123\n', { mode: 0o600 });
      const store = await Store.open(config.dataDir, config.store);
      try {
        const keys = await gatewayHostKeys(config, store);
        assert.deepEqual(keys.map((k) => k.public.type), ['ssh-ed25519', 'ssh-rsa']);
        assert.equal((await loadSessionSecret(config, logger, store)).length, 64);
      } finally {
        await store.close();
      }
    });

    it('keeps the operator\'s auth.sessionSecret over the stored one', async () => {
      const given = 'x'.repeat(40);
      const config = testConfig({ BERTH_STORE_KIND: 'postgres', BERTH_STORE_URL: await cluster.freshDatabase(), BERTH_AUTH_SESSION_SECRET: given });
      const store = await Store.open(config.dataDir, config.store);
      try {
        assert.equal(await loadSessionSecret(config, logger, store), given);
      } finally {
        await store.close();
      }
    });
  });
}

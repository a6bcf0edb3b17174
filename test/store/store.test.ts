import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { HandOffCodes } from '../../src/apps/codes.js';
import { BerthError } from '../../src/core/errors.js';
import { Store } from '../../src/store/store.js';
import { openFresh, storeKinds } from '../helpers/stores.js';

const kinds = await storeKinds('store');

for (const kind of kinds) {
  describe(`store on ${kind.name}`, () => {
    it('keeps tokens, looks them up by hash and deletes only the owner\'s', async () => {
      const store = await openFresh(kind);
      try {
        const token = { id: 'tok1', user: 'alice', name: 'ci', scopes: ['api', 'apps'] as const, createdAt: Date.now(), expiresAt: null, lastUsedAt: null };
        await store.addToken({ ...token, scopes: [...token.scopes] }, 'hash1');
        assert.deepEqual(await store.tokenByHash('hash1'), { ...token, scopes: ['api', 'apps'] });
        assert.equal(await store.tokenByHash('HASH1'), null, 'lookups are case-sensitive on both');
        await store.touchToken('tok1', 1234);
        assert.equal((await store.tokenById('tok1'))?.lastUsedAt, 1234);
        assert.equal(await store.deleteToken('bob', 'tok1'), false);
        assert.equal((await store.listTokens('alice')).length, 1);
        assert.equal(await store.deleteToken('alice', 'tok1'), true);
        assert.deepEqual(await store.listTokens('alice'), []);
      } finally {
        await store.close();
      }
    });

    it('upserts shares and keeps "owner" as no row', async () => {
      const store = await openFresh(kind);
      try {
        await store.setShare('alice', 8080, 'users');
        await store.setShare('alice', 8080, 'public');
        await store.setShare('alice', 3000, 'users');
        assert.equal(await store.share('alice', 8080), 'public');
        assert.deepEqual(await store.listShares('alice'), new Map([[8080, 'public'], [3000, 'users']]));
        await store.setShare('alice', 3000, 'owner');
        assert.equal(await store.share('alice', 3000), 'owner');
        assert.deepEqual([...(await store.listShares('alice')).keys()], [8080]);
      } finally {
        await store.close();
      }
    });

    it('adds an SSH key once per user, finds users by fingerprint and deletes by id', async () => {
      const store = await openFresh(kind);
      try {
        const key = { user: 'alice', publicKey: 'ssh-ed25519 AAAA alice@laptop', fingerprint: 'SHA256:abc', comment: 'alice@laptop', createdAt: 5 };
        const first = await store.addSshKey(key);
        const again = await store.addSshKey(key);
        await store.addSshKey({ ...key, user: 'bob' });
        assert.equal(first.created, true);
        assert.equal(again.created, false);
        assert.deepEqual(again.key, first.key);
        assert.equal(typeof first.key.id, 'number');
        assert.deepEqual((await store.usersWithSshKey('SHA256:abc')).sort(), ['alice', 'bob']);
        assert.equal(await store.deleteSshKey('bob', first.key.id), false);
        assert.equal(await store.deleteSshKey('alice', first.key.id), true);
        assert.deepEqual(await store.usersWithSshKey('SHA256:abc'), ['bob']);
      } finally {
        await store.close();
      }
    });

    it('saves activity as an upsert and remembers its users by safe name', async () => {
      const store = await openFresh(kind);
      try {
        await store.saveActivity(new Map([['alice', 10], ['Bob.Smith', 20]]));
        await store.saveActivity(new Map([['alice', Date.UTC(2040, 0, 1)]]));
        assert.deepEqual(await store.loadActivity(), new Map([['alice', Date.UTC(2040, 0, 1)], ['Bob.Smith', 20]]));
        await store.rememberUser('carol');
        assert.equal(await store.userBySafeName('carol'), 'carol');
        assert.equal(await store.userBySafeName('nobody'), null);
      } finally {
        await store.close();
      }
    });

    it('makes a shared secret once, however many ask at the same time', async () => {
      const { dataDir, options } = await kind.fresh();
      const stores = await Promise.all([1, 2, 3].map(() => Store.open(dataDir, options)));
      try {
        let made = 0;
        const values = await Promise.all(stores.map((s, i) => s.sharedSecret('session', () => `value-${i}-${++made}`)));
        assert.equal(new Set(values).size, 1);
        assert.equal(await stores[0]?.sharedSecret('session', () => 'never'), values[0]);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('redeems a hand-off code once across gateways, for its host only, before it expires', async () => {
      const { dataDir, options } = await kind.fresh();
      const [a, b] = await Promise.all([Store.open(dataDir, options), Store.open(dataDir, options)]);
      let now = 1_000_000;
      const onA = new HandOffCodes(a as Store, () => now);
      const onB = new HandOffCodes(b as Store, () => now);
      try {
        const code = await onA.issue('alice', 'alice-8080.apps.test');
        const both = await Promise.all([onA.redeem(code, 'alice-8080.apps.test'), onB.redeem(code, 'alice-8080.apps.test')]);
        assert.deepEqual(both.sort(), ['alice', null]);
        const foreign = await onA.issue('alice', 'alice-8080.apps.test');
        assert.equal(await onB.redeem(foreign, 'mallory-80.apps.test'), null);
        assert.equal(await onA.redeem(foreign, 'alice-8080.apps.test'), null, 'a code tried on another host is spent');
        const late = await onA.issue('alice', 'alice-8080.apps.test');
        now += 60_000;
        assert.equal(await onB.redeem(late, 'alice-8080.apps.test'), null);
        assert.equal(await onB.redeem('', 'alice-8080.apps.test'), null);
      } finally {
        await Promise.all([a?.close(), b?.close()]);
      }
    });

    it('migrates once when several gateways open a new store at the same time', async () => {
      const { dataDir, options } = await kind.fresh();
      const stores = await Promise.all([1, 2, 3, 4].map(() => Store.open(dataDir, options)));
      try {
        const rows = await sql<{ version: number }>`select version from schema_version order by version`.execute((stores[0] as Store).db);
        assert.deepEqual(
          rows.rows.map((r) => Number(r.version)),
          rows.rows.map((_, i) => i + 1),
        );
        await (stores[1] as Store).rememberUser('dave');
        assert.equal(await (stores[2] as Store).userBySafeName('dave'), 'dave');
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });
  });
}

const postgres = kinds.find((k) => k.name === 'postgres');
if (postgres !== undefined) {
  describe('store on postgres: where the URL comes from', () => {
    it('reads store.urlFile, and libpq\'s PG* variables when no URL is given', async () => {
      const { dataDir, options } = await postgres.fresh();
      const file = join(dataDir, 'store-url');
      writeFileSync(file, `${options.url}\n`, { mode: 0o600 });
      const fromFile = await Store.open(dataDir, { kind: 'postgres', url: null, urlFile: file });
      await fromFile.rememberUser('erin');
      await fromFile.close();
      const url = new URL(options.url as string);
      const saved = { ...process.env };
      Object.assign(process.env, { PGHOST: url.hostname, PGPORT: url.port, PGUSER: url.username, PGDATABASE: url.pathname.slice(1) });
      try {
        const fromEnv = await Store.open(dataDir, { kind: 'postgres', url: null, urlFile: null });
        assert.equal(await fromEnv.userBySafeName('erin'), 'erin');
        await fromEnv.close();
      } finally {
        for (const name of ['PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE']) {
          if (saved[name] === undefined) delete process.env[name];
          else process.env[name] = saved[name];
        }
      }
    });

    it('refuses an unreachable store with store_unavailable, naming no password', async () => {
      const { dataDir, options } = await postgres.fresh();
      const url = new URL(options.url as string);
      url.password = 'hunter2-secret';
      url.pathname = '/no_such_database';
      const err = await Store.open(dataDir, { kind: 'postgres', url: url.toString(), urlFile: null }).then(
        () => assert.fail('opened a store that does not exist'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof BerthError);
      assert.equal(err.code, 'store_unavailable');
      assert.match(err.userMessage, /no_such_database/);
      assert.doesNotMatch(err.userMessage + err.logMessage, /hunter2/);
    });
  });
}

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AuditLog } from '../../src/audit/auditLog.js';
import { DailyOnce } from '../../src/audit/dailyOnce.js';
import { JsonLinesFile } from '../../src/audit/jsonLines.js';
import type { AuditEvent } from '../../src/audit/kinds.js';
import { createLogger } from '../../src/log/logger.js';
import { openFresh, storeKinds } from '../helpers/stores.js';

const logger = createLogger('silent');
const DAY = 24 * 3600 * 1000;

const event = (kind: AuditEvent['kind'], actor: string | null, target: string | null, detail: AuditEvent['detail'] = {}): AuditEvent => ({
  kind,
  actor,
  via: 'dev',
  source: '127.0.0.1',
  target,
  outcome: 'ok',
  detail,
});

for (const kind of await storeKinds('audit log')) {
  describe(`audit log on ${kind.name}`, () => {
    it('keeps what record() was given and filters by user (actor or target), kind family, time and cursor', async () => {
      const store = await openFresh(kind);
      let now = Date.UTC(2026, 0, 1);
      const audit = new AuditLog({ store, logger, retainDays: 90, now: () => now });
      try {
        audit.record(event('signin.succeeded', 'alice', 'alice', { mode: 'dev' }));
        now += 1000;
        audit.record(event('ssh.session.opened', 'alice', 'alice', { type: 'exec', command: 'ls -l' }));
        now += 1000;
        audit.record(event('admin.action', 'root', 'alice', { action: 'stop' }));
        now += 1000;
        audit.record(event('ssh.auth.failed', 'bob', 'bob', { method: 'password' }));
        now += 1000;
        audit.record({ kind: 'origin.refused', actor: null, via: null, source: '10.0.0.9', target: null, outcome: 'refused', detail: { path: '/x' } });

        const all = await audit.query({ limit: 100 });
        assert.deepEqual(
          all.map((e) => e.kind),
          ['origin.refused', 'ssh.auth.failed', 'admin.action', 'ssh.session.opened', 'signin.succeeded'],
        );
        assert.deepEqual(all[3], { id: all[3]?.id, at: Date.UTC(2026, 0, 1) + 1000, kind: 'ssh.session.opened', actor: 'alice', via: 'dev', source: '127.0.0.1', target: 'alice', outcome: 'ok', detail: { type: 'exec', command: 'ls -l' } });
        assert.equal(typeof all[0]?.at, 'number');

        const alices = await audit.query({ user: 'alice', limit: 100 });
        assert.deepEqual(alices.map((e) => e.kind), ['admin.action', 'ssh.session.opened', 'signin.succeeded'], 'an admin acting on alice is in her log');
        assert.deepEqual((await audit.query({ kind: 'ssh.', limit: 100 })).map((e) => e.kind), ['ssh.auth.failed', 'ssh.session.opened']);
        assert.deepEqual((await audit.query({ kind: 'ssh.auth.failed', limit: 100 })).map((e) => e.actor), ['bob']);
        assert.deepEqual((await audit.query({ kind: 'ssh.session', limit: 100 })).length, 0, 'a kind without its dot is a whole kind, not a prefix');
        const start = Date.UTC(2026, 0, 1);
        assert.deepEqual((await audit.query({ since: start + 1000, until: start + 3000, limit: 100 })).map((e) => e.kind), ['admin.action', 'ssh.session.opened']);

        const first = await audit.query({ limit: 2 });
        const second = await audit.query({ limit: 2, before: first.at(-1)?.id as number });
        const third = await audit.query({ limit: 2, before: second.at(-1)?.id as number });
        assert.deepEqual([...first, ...second, ...third].map((e) => e.id), all.map((e) => e.id), 'pages follow each other without gaps or repeats');
      } finally {
        await audit.close();
        await store.close();
      }
    });

    it('writes a burst in batches and prunes events older than retainDays', async () => {
      const store = await openFresh(kind);
      let now = Date.UTC(2026, 0, 1);
      const audit = new AuditLog({ store, logger, retainDays: 30, now: () => now });
      try {
        for (let i = 0; i < 1200; i++) audit.record(event('token.used', 'alice', 'alice', { token: `t${i}` }));
        now += 31 * DAY;
        audit.record(event('token.used', 'alice', 'alice', { token: 'recent' }));
        await audit.flush();
        assert.equal((await audit.query({ limit: 5000 })).length, 1201);
        assert.equal(await audit.prune(), 1200);
        assert.deepEqual((await audit.query({ limit: 5000 })).map((e) => e.detail.token), ['recent']);
      } finally {
        await audit.close();
        await store.close();
      }
    });
  });
}

describe('audit log without a store', () => {
  it('keeps events queued when the store fails and never throws to the caller', async () => {
    const [kind] = await storeKinds('audit log');
    const store = await openFresh(kind!);
    await store.close();
    const audit = new AuditLog({ store, logger, retainDays: 1 });
    assert.doesNotThrow(() => audit.record(event('spawn.requested', 'alice', 'alice')));
    await audit.flush();
    // The batch went back into the queue: a second flush tries it again, and fails again, quietly.
    await assert.doesNotReject(audit.flush());
    await assert.rejects(audit.query({ limit: 1 }));
  });

  it('cuts long detail text and drops values that are not flat', async () => {
    const [kind] = await storeKinds('audit log');
    const store = await openFresh(kind!);
    const audit = new AuditLog({ store, logger, retainDays: 1 });
    try {
      audit.record(event('ssh.session.opened', 'alice', 'alice', { command: 'x'.repeat(5000), nested: { a: 1 } as never, ok: true }));
      const [stored] = await audit.query({ limit: 1 });
      assert.equal((stored?.detail.command as string).length, 1001);
      assert.equal(stored?.detail.ok, true);
      assert.equal('nested' in (stored?.detail ?? {}), false);
    } finally {
      await audit.close();
      await store.close();
    }
  });
});

describe('audit log under a flood of refusals', () => {
  it('keeps 60 refusals or anonymous events a minute per address, every other address\'s and every signed-in success', async () => {
    const [kind] = await storeKinds('audit log');
    const store = await openFresh(kind!);
    let now = Date.UTC(2026, 0, 1);
    const audit = new AuditLog({ store, logger, retainDays: 1, now: () => now });
    const refused = (source: string): AuditEvent => ({ kind: 'ssh.auth.failed', actor: null, via: 'password', source, target: null, outcome: 'refused' });
    try {
      for (let i = 0; i < 100; i++) audit.record(refused('203.0.113.9'));
      audit.record(refused('198.51.100.1'));
      audit.record({ kind: 'ssh.connected', actor: null, via: null, source: '203.0.113.9', target: null, outcome: 'ok' });
      audit.record({ ...event('ssh.auth.succeeded', 'alice', 'alice'), source: '203.0.113.9' });
      now += 60_000;
      audit.record(refused('203.0.113.9'));
      const kept = await audit.query({ limit: 500 });
      assert.equal(kept.filter((e) => e.source === '203.0.113.9' && e.outcome === 'refused').length, 61);
      assert.equal(kept.filter((e) => e.source === '198.51.100.1').length, 1);
      assert.equal(kept.filter((e) => e.kind === 'ssh.auth.succeeded').length, 1);
      assert.equal(kept.filter((e) => e.kind === 'ssh.connected').length, 0, 'an anonymous connection counts against the same budget');
    } finally {
      await audit.close();
      await store.close();
    }
  });
});

describe('audit JSON lines file', () => {
  it('appends one JSON object per event and, after reopen(), writes to a new file under the same name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-audit-'));
    try {
      const [kind] = await storeKinds('audit log');
      const store = await openFresh(kind!);
      const path = join(dir, 'audit.jsonl');
      const audit = new AuditLog({ store, logger, retainDays: 1, lines: [new JsonLinesFile(path, logger)] });
      audit.record(event('signin.succeeded', 'alice', 'alice', { mode: 'oidc' }));
      await audit.flush();
      await new Promise((resolve) => setTimeout(resolve, 50));
      renameSync(path, `${path}.1`);
      audit.reopen();
      audit.record(event('signout', 'alice', 'alice'));
      await audit.close();
      await store.close();
      const rotated = readFileSync(`${path}.1`, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
      const fresh = readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
      assert.equal(rotated.length, 1);
      assert.equal(rotated[0].kind, 'signin.succeeded');
      assert.equal(rotated[0].type, 'audit');
      assert.equal(rotated[0].detail.mode, 'oidc');
      assert.match(rotated[0].time, /^\d{4}-\d\d-\d\dT/);
      assert.deepEqual(fresh.map((e) => e.kind), ['signout']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('first per day', () => {
  it('says yes once per key per UTC day', () => {
    let now = Date.UTC(2026, 0, 1, 23, 0);
    const once = new DailyOnce(() => now);
    assert.equal(once.first('alice:8080'), true);
    assert.equal(once.first('alice:8080'), false);
    assert.equal(once.first('bob:8080'), true);
    now = Date.UTC(2026, 0, 2, 0, 1);
    assert.equal(once.first('alice:8080'), true, 'a new day counts again');
  });
});

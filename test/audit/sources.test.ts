import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { AppCookies } from '../../src/apps/appCookie.js';
import { AppHosts } from '../../src/apps/appHosts.js';
import { HandOffCodes } from '../../src/apps/codes.js';
import { createAuditLog } from '../../src/audit/fromConfig.js';
import type { AuditEvent, AuditRecorder } from '../../src/audit/kinds.js';
import { createAuth } from '../../src/auth/registry.js';
import { Tokens } from '../../src/auth/token/tokens.js';
import { loadConfig } from '../../src/config/load.js';
import type { Forwarder } from '../../src/http/forwarder.js';
import { createLogger } from '../../src/log/logger.js';
import type { BerthDirectory } from '../../src/spawner/types.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { LocalRuntime } from '../../src/runtime/local/localRuntime.js';
import { Culler } from '../../src/spawner/culler.js';
import { Spawner } from '../../src/spawner/spawner.js';
import { Store } from '../../src/store/store.js';
import { fakeRequest, testConfig } from '../auth/helpers.js';
import { NODE_SERVER } from '../helpers/gatewayParts.js';

/** Collects what a part records, to check what it says at its source. */
function collector(): AuditRecorder & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return { events, record: (event) => void events.push(event) };
}

const logger = createLogger('silent');

describe('audit events at their sources', () => {
  it('port.visited: a visitor other than the owner, once a day per port and outcome; the owner never', async () => {
    const config = testConfig({ apps: { domain: 'apps.test' } });
    const store = await Store.open(config.dataDir);
    const audit = collector();
    const tokens = new Tokens(store, () => false);
    // A directory with no berth running, which starts none: the visit is decided (and recorded) before a berth is needed.
    const directory = { userOf: () => null, readyTarget: () => null, ready: () => Promise.reject(new Error('no berth in this test')) } as unknown as BerthDirectory;
    const apps = new AppHosts({
      config,
      directory,
      store,
      tokens,
      cookies: new AppCookies({ key: Buffer.alloc(32), lifetimeSeconds: 60, secure: false }),
      codes: new HandOffCodes(store),
      forwarder: {} as Forwarder,
      logger,
      audit,
    });
    try {
      await store.rememberUser('alice');
      const bob = (await tokens.create('bob', { name: null, scopes: ['apps'], expiresInSeconds: null })).secret;
      const alice = (await tokens.create('alice', { name: null, scopes: ['apps'], expiresInSeconds: null })).secret;
      const visit = (secret: string) =>
        apps.handleRequest(fakeRequest({ peer: '10.1.2.3', headers: [['host', 'alice-8080.apps.test'], ['x-berth-token', secret]] }), {} as ServerResponse);

      for (let i = 0; i < 3; i++) await assert.rejects(visit(bob), { code: 'forbidden' });
      await store.setShare('alice', 8080, 'users');
      for (let i = 0; i < 3; i++) await assert.rejects(visit(bob), { code: 'berth_stopped' });
      await assert.rejects(visit(alice), /no berth in this test/, 'the owner may start the berth');

      assert.deepEqual(
        audit.events.map(({ kind, actor, via, source, target, outcome, detail }) => ({ kind, actor, via, source, target, outcome, detail })),
        [
          { kind: 'port.visited', actor: 'bob', via: 'token', source: '10.1.2.3', target: 'alice', outcome: 'refused', detail: { port: 8080, host: 'alice-8080.apps.test', share: 'owner' } },
          { kind: 'port.visited', actor: 'bob', via: 'token', source: '10.1.2.3', target: 'alice', outcome: 'ok', detail: { port: 8080, host: 'alice-8080.apps.test', share: 'users' } },
        ],
      );
    } finally {
      await store.close();
    }
  });

  it('header mode: a believed user once a day, every refused header with the reason and never the value', async () => {
    const config = testConfig({ auth: { mode: 'header' } });
    const audit = collector();
    const { authenticator } = await createAuth(config, logger, () => false, undefined, audit);
    const header = (peer: string, value: string) => fakeRequest({ peer, headers: [['x-forwarded-preferred-username', value]] });
    for (let i = 0; i < 3; i++) assert.ok('user' in (await authenticator.authenticate(header('127.0.0.1', 'alice'))));
    assert.ok('refused' in (await authenticator.authenticate(header('192.0.2.7', 'root-impersonated'))));
    assert.ok('refused' in (await authenticator.authenticate(header('127.0.0.1', ' padded'))));
    assert.deepEqual(
      audit.events.map((e) => [e.kind, e.actor, e.source, e.outcome]),
      [
        ['signin.succeeded', 'alice', '127.0.0.1', 'ok'],
        ['signin.failed', null, '192.0.2.7', 'refused'],
        ['signin.failed', null, '127.0.0.1', 'refused'],
      ],
    );
    assert.match(String(audit.events[1]?.detail?.reason), /untrusted peer/);
    assert.equal(JSON.stringify(audit.events).includes('root-impersonated'), false, 'a forged name is not repeated');
  });

  it('tokens: first use per day, and refusals naming the token by id only', async () => {
    const config = testConfig();
    const store = await Store.open(config.dataDir);
    const audit = collector();
    let now = Date.UTC(2026, 5, 1, 10);
    const tokens = new Tokens(store, () => false, audit, () => now);
    try {
      const { secret, token } = await tokens.create('alice', { name: null, scopes: ['apps'], expiresInSeconds: 3600 });
      await tokens.check(secret, ['apps'], '127.0.0.1');
      await tokens.check(secret, ['apps'], '127.0.0.1');
      await assert.rejects(tokens.check(secret, ['api'], '127.0.0.1'), { code: 'forbidden' });
      await assert.rejects(tokens.check('berth_not-a-real-token', ['api'], '127.0.0.9'), { code: 'unauthenticated' });
      now += 2 * 3600 * 1000;
      await assert.rejects(tokens.check(secret, ['apps'], '127.0.0.1'), { code: 'unauthenticated' });
      assert.deepEqual(
        audit.events.map((e) => [e.kind, e.actor, e.detail?.token ?? null, e.detail?.reason ?? null]),
        [
          ['token.used', 'alice', token.id, null],
          ['signin.failed', 'alice', token.id, 'token without the scope api'],
          ['signin.failed', null, null, 'unknown or malformed token'],
          ['signin.failed', 'alice', token.id, 'expired token'],
        ],
      );
      assert.equal(JSON.stringify(audit.events).includes(secret), false);
    } finally {
      await store.close();
    }
  });
});

describe('audit events of the spawner (local runtime)', () => {
  it('requested, started, stopped with who did it, culled, and failed with the exit code', async () => {
    // carol's berth exits at once; everyone else's serves.
    const command = [process.execPath, '-e', `if (process.env.BERTH_USER === 'carol') process.exit(7); ${NODE_SERVER[2]}`];
    const config = testConfig({ environment: { command }, spawn: { timeoutSeconds: 20 } });
    const store = await Store.open(config.dataDir);
    const runtime = new LocalRuntime({ dataDir: config.dataDir, logger, defaultCommand: command, stopGraceSeconds: 1 });
    const audit = collector();
    const spawner: Spawner = new Spawner({ config, runtime, store, logger, metrics: new Metrics(() => spawner.list()), audit });
    try {
      await spawner.ready('alice', 'http');
      await spawner.stop('alice', 'stopped by alice');
      await spawner.ready('alice', 'ssh');
      const culled = await new Culler(spawner, { stopAfterSeconds: 1, checkEverySeconds: 60 }, logger).pass(Date.now() + 10_000);
      assert.deepEqual(culled, ['alice']);
      await assert.rejects(spawner.ready('carol', 'api'), { code: 'spawn_failed' });
      const seen = audit.events.map((e) => [e.kind, e.target, e.via, e.outcome]);
      assert.deepEqual(seen, [
        ['spawn.requested', 'alice', 'gateway', 'ok'],
        ['spawn.started', 'alice', 'gateway', 'ok'],
        ['spawn.stopped', 'alice', 'gateway', 'ok'],
        ['spawn.requested', 'alice', 'gateway', 'ok'],
        ['spawn.started', 'alice', 'gateway', 'ok'],
        ['spawn.culled', 'alice', 'gateway', 'ok'],
        ['spawn.requested', 'carol', 'gateway', 'ok'],
        ['spawn.failed', 'carol', 'gateway', 'failed'],
      ]);
      assert.equal(audit.events[2]?.detail?.why, 'stopped by alice');
      assert.equal(audit.events[3]?.detail?.reason, 'ssh');
      assert.equal(audit.events[7]?.detail?.exitCode, 7);
    } finally {
      await spawner.close({ stopBerths: true });
      await runtime.close();
      await store.close();
    }
  });
});

describe('audit configuration', () => {
  it('takes audit.* from BERTH_AUDIT_* and refuses a retention under a day, naming the key', () => {
    const { config } = loadConfig({ env: { BERTH_AUDIT_RETAIN_DAYS: '7', BERTH_AUDIT_STDOUT: 'true', BERTH_AUDIT_FILE: '/var/log/berth/audit.jsonl' } });
    assert.deepEqual(config.audit, { retainDays: 7, stdout: true, file: '/var/log/berth/audit.jsonl' });
    assert.deepEqual(loadConfig({ env: {} }).config.audit, { retainDays: 90, stdout: false, file: null });
    assert.throws(() => loadConfig({ env: { BERTH_AUDIT_RETAIN_DAYS: '0' } }), /audit\.retainDays/);
  });

  it('audit.stdout: every event as one JSON line marked "type":"audit" on the given stream', async () => {
    const config = testConfig({ audit: { stdout: true } });
    const store = await Store.open(config.dataDir);
    let written = '';
    const stdout = new Writable({ write: (chunk: Buffer, _encoding, callback) => ((written += chunk.toString('utf8')), callback()) });
    const audit = createAuditLog(config, store, logger, stdout);
    try {
      audit.record({ kind: 'signout', actor: 'alice', via: 'dev', source: '127.0.0.1', target: 'alice', outcome: 'ok' });
      await audit.flush();
      const line = JSON.parse(written.trim()) as Record<string, unknown>;
      assert.equal(line.type, 'audit');
      assert.equal(line.kind, 'signout');
      assert.equal(line.actor, 'alice');
      assert.equal((await audit.query({ limit: 10 })).length, 1, 'and in the store');
    } finally {
      await audit.close();
      await store.close();
    }
  });
});

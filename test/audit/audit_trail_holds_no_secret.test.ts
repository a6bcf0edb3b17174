import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startGateway, type RunningGateway } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config/load.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { Store } from '../../src/store/store.js';
import { eventually, httpRequest, type Reply } from '../helpers/http.js';
import { CLIENT_SECRET, CookieJar, signInUntilCallback, startTestProvider, step } from '../helpers/oidcProvider.js';
import { background, clientOptions, makeKey, run, scratchDir, until, type ClientKey } from '../ssh/harness.js';

/*
 * The audit trail after end-to-end flows through the whole gateway (the
 * composition root, local berths, real OpenSSH clients, a real OpenID
 * provider): three gateways in turn on one data directory and one audit.file,
 * in header, dev and oidc mode. Afterwards the audit table and the file hold
 * the events of what was done, and neither holds any token, cookie, sign-in
 * code, client secret or key the test used.
 */

interface AuditEntry {
  id: string;
  at: string;
  kind: string;
  actor: string | null;
  via: string | null;
  source: string | null;
  target: string | null;
  outcome: string;
  detail: Record<string, unknown>;
}

describe('audit trail after end-to-end flows', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-audit-e2e-'));
  const auditFile = join(dataDir, 'audit.jsonl');
  const scratch = scratchDir();
  /** Every secret the test handles: none may reach the audit table or file. */
  const secrets: string[] = [CLIENT_SECRET];
  let key: ClientKey;

  const env = (base: string, extra: Record<string, string>) => ({
    BERTH_DATA_DIR: dataDir,
    BERTH_PUBLIC_URL: base,
    BERTH_LISTEN_HTTP: new URL(base).host,
    BERTH_LISTEN_SSH: 'null',
    BERTH_LOG_LEVEL: 'warn',
    BERTH_AUDIT_FILE: auditFile,
    BERTH_AUTH_ADMINS: '[root]',
    // The test is about the audit trail, not the sandbox (which has tests of its own).
    BERTH_RUNTIME_LOCAL_SANDBOX: 'off',
    BERTH_RUNTIME_LOCAL_ALLOW_UNSANDBOXED: 'true',
    ...extra,
  });
  const quiet = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const serve = (vars: Record<string, string>) => startGateway(loadConfig({ env: vars, cwd: dataDir }), 'test', quiet);

  before(() => {
    key = makeKey(scratch.dir, 'alice');
    secrets.push(...privateKeyLines(key.path));
  });
  after(() => {
    rmSync(dataDir, { recursive: true, force: true });
    scratch.remove();
  });

  describe('header mode, tokens, shares, spawns, SSH and a refused Origin', () => {
    let gateway: RunningGateway;
    let base: string;
    let sshPort: number;
    const as = (user: string, extra: Record<string, string> = {}) => ({ 'x-forwarded-preferred-username': user, ...extra });
    const api = (path: string, user: string, options: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> =>
      httpRequest(`${base}/_berth/api${path}`, {
        method: options.method ?? 'GET',
        headers: { ...as(user), 'content-type': 'application/json', ...options.headers },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
    const audit = async (user: string, query = ''): Promise<AuditEntry[]> => {
      const reply = await api(`/audit${query}`, user);
      assert.equal(reply.status, 200, reply.body);
      return (JSON.parse(reply.body) as { events: AuditEntry[] }).events;
    };
    const ssh = (args: string[], input?: string) => run('ssh', [...clientOptions(key), '-p', String(sshPort), ...args], input === undefined ? {} : { input });

    before(async () => {
      base = `http://127.0.0.1:${await freeLoopbackPort()}`;
      sshPort = await freeLoopbackPort();
      gateway = await serve(env(base, { BERTH_AUTH_MODE: 'header', BERTH_LISTEN_SSH: `127.0.0.1:${sshPort}` }));
    });
    after(() => gateway.shutdown());

    it('records each action once, with who, how, from where and on whom', async () => {
      assert.equal((await api('/me', 'alice')).status, 200);
      assert.equal((await api('/me', 'alice')).status, 200);

      const created = await api('/me/tokens', 'alice', { method: 'POST', body: { scopes: ['api'], name: 'laptop' } });
      assert.equal(created.status, 201, created.body);
      const token = JSON.parse(created.body) as { id: string; token: string };
      secrets.push(token.token);
      const bearer = { authorization: `Bearer ${token.token}` };
      for (let i = 0; i < 2; i++) assert.equal((await httpRequest(`${base}/_berth/api/me`, { headers: bearer })).status, 200);

      assert.equal((await api('/me/ports/8080', 'alice', { method: 'PUT', body: { share: 'users' } })).status, 200);
      const foreign = await api('/me/start', 'alice', { method: 'POST', headers: { origin: 'https://evil.example' } });
      assert.equal(foreign.status, 403, 'a state change from another origin is refused');

      assert.equal((await api('/me/start', 'alice', { method: 'POST' })).status, 202);
      await eventually(async () => (JSON.parse((await api('/me', 'alice')).body).berth.state === 'ready' ? true : undefined), 30_000, 'the berth to be ready');

      const added = await api('/me/keys', 'alice', { method: 'POST', body: { key: key.publicKey } });
      assert.equal(added.status, 201, added.body);
      const exec = await ssh(['alice@127.0.0.1', '--', 'echo "port=$PORT"; exit 3']);
      assert.equal(exec.code, 3, exec.stderr);
      const berthPort = Number(/port=(\d+)/.exec(exec.stdout)?.[1]);
      assert.ok(berthPort > 0, `the berth's port from its environment: ${exec.stdout}`);
      const shell = await ssh(['-T', 'alice@127.0.0.1'], 'echo from-the-shell\nexit 0\n');
      assert.equal(shell.code, 0, shell.stderr);
      assert.match(shell.stdout, /from-the-shell/);
      const sftp = await run('sftp', ['-b', '-', ...clientOptions(key), '-P', String(sshPort), 'alice@127.0.0.1'], { input: 'pwd\n' });
      assert.equal(sftp.code, 0, sftp.stderr);
      const local = await freeLoopbackPort();
      const forward = background('ssh', ['-N', '-o', 'ExitOnForwardFailure=yes', '-L', `${local}:127.0.0.1:${berthPort}`, ...clientOptions(key), '-p', String(sshPort), 'alice@127.0.0.1']);
      try {
        await until(async () => (await httpRequest(`http://127.0.0.1:${local}/`).catch(() => null))?.status === 200, 'the forward to reach the berth', 20_000);
      } finally {
        await forward.stop();
      }
      const stranger = makeKey(scratch.dir, 'stranger');
      secrets.push(...privateKeyLines(stranger.path));
      const refused = await run('ssh', [...clientOptions(stranger), '-p', String(sshPort), 'alice@127.0.0.1', '--', 'true']);
      assert.notEqual(refused.code, 0);

      assert.equal((await api('/berths/stop', 'root', { method: 'POST', body: { user: 'alice' } })).status, 200);
      const revoked = await httpRequest(`${base}/_berth/api/me/tokens/${token.id}`, { method: 'DELETE', headers: as('alice') });
      assert.equal(revoked.status, 204);
      assert.equal((await httpRequest(`${base}/_berth/api/me`, { headers: bearer })).status, 401);

      await until(async () => (await audit('root', '?kind=ssh.session.closed')).length >= 4, 'the SSH sessions to be recorded as closed', 20_000);
      const events = (await audit('root', '?limit=500')).reverse();
      const count = (kind: string, where: (e: AuditEntry) => boolean = () => true) => events.filter((e) => e.kind === kind && where(e)).length;

      assert.equal(count('signin.succeeded', (e) => e.actor === 'alice' && e.via === 'header' && e.detail.mode === 'header'), 1, 'a header sign-in once a day');
      assert.equal(count('signin.succeeded', (e) => e.actor === 'root'), 1);
      assert.equal(count('token.created', (e) => e.actor === 'alice' && e.detail.token === token.id && e.detail.scopes === 'api'), 1);
      assert.equal(count('token.used', (e) => e.actor === 'alice' && e.via === 'token' && e.detail.token === token.id), 1, 'a token used twice is recorded once that day');
      assert.equal(count('token.revoked', (e) => e.detail.token === token.id), 1);
      assert.equal(count('signin.failed', (e) => e.via === 'token' && e.outcome === 'refused'), 1, 'the revoked token, refused');
      assert.equal(count('share.changed', (e) => e.target === 'alice' && e.detail.port === 8080 && e.detail.share === 'users'), 1);
      const originRefusal = events.find((e) => e.kind === 'origin.refused');
      assert.ok(originRefusal, 'the foreign Origin is recorded');
      assert.equal(originRefusal.outcome, 'refused');
      assert.equal(originRefusal.source, '127.0.0.1');
      assert.equal(originRefusal.detail.path, '/_berth/api/me/start');
      assert.match(String(originRefusal.detail.evidence), /evil\.example/);
      assert.ok(count('spawn.requested', (e) => e.target === 'alice' && e.detail.reason === 'api') >= 1);
      assert.equal(count('spawn.started', (e) => e.target === 'alice'), 1);
      assert.equal(count('admin.action', (e) => e.actor === 'root' && e.target === 'alice' && e.detail.action === 'stop'), 1);
      assert.equal(count('spawn.stopped', (e) => e.target === 'alice' && /administrator root/.test(String(e.detail.why))), 1);

      assert.ok(count('ssh.connected', (e) => e.source === '127.0.0.1') >= 5);
      assert.ok(count('ssh.auth.succeeded', (e) => e.actor === 'alice' && e.via === 'publickey' && typeof e.detail.fingerprint === 'string') >= 4);
      assert.ok(count('ssh.auth.failed', (e) => e.detail.username === 'alice' && e.detail.code === 'auth_key_unknown') >= 1, 'the unregistered key');
      const opened = events.filter((e) => e.kind === 'ssh.session.opened' && e.outcome === 'ok');
      assert.deepEqual(opened.map((e) => e.detail.type), ['exec', 'shell', 'sftp', 'forward']);
      assert.equal(opened[0]?.detail.command, 'echo "port=$PORT"; exit 3');
      assert.equal(opened[3]?.detail.destination, `127.0.0.1:${berthPort}`);
      const closed = events.filter((e) => e.kind === 'ssh.session.closed');
      assert.deepEqual(closed.find((e) => e.detail.type === 'exec')?.detail.exitStatus, 3);
      assert.deepEqual(closed.find((e) => e.detail.type === 'shell')?.detail.exitStatus, 0);
      assert.ok(closed.some((e) => e.detail.type === 'sftp'));
      assert.ok(closed.some((e) => e.detail.type === 'forward'));
      for (const e of events) assert.match(e.at, /^\d{4}-\d\d-\d\dT/);
    });

    it('shows a user only their own events and refuses a forged user filter', async () => {
      const own = await audit('alice', '?limit=500');
      assert.ok(own.length > 0);
      for (const e of own) assert.ok(e.actor === 'alice' || e.target === 'alice', `alice sees ${e.kind} of ${e.actor} on ${e.target}`);
      assert.ok(own.some((e) => e.kind === 'admin.action'), 'an admin acting on her berth is in her activity');
      const forged = await api('/audit?user=root', 'alice');
      assert.equal(forged.status, 403);
      assert.match(JSON.parse(forged.body).error.message, /Only administrators/);
      assert.equal((await api('/audit?user=alice', 'alice')).status, 200, 'naming oneself is allowed');

      const sshOnly = await audit('root', '?user=alice&kind=ssh.');
      assert.ok(sshOnly.length > 0);
      for (const e of sshOnly) assert.match(e.kind, /^ssh\./);
      const page = await api('/audit?limit=2', 'root');
      const { events, nextCursor } = JSON.parse(page.body) as { events: AuditEntry[]; nextCursor: string };
      const next = (JSON.parse((await api(`/audit?limit=2&cursor=${nextCursor}`, 'root')).body) as { events: AuditEntry[] }).events;
      assert.ok(Number(next[0]?.id) < Number(events[1]?.id), 'the next page continues with older events');
      assert.equal((await api('/audit?kind=ssh%25', 'root')).status, 400);
      assert.equal((await api('/audit?since=yesterday', 'root')).status, 400);
      assert.equal((await api('/audit?limit=100000', 'root')).status, 400);
      const future = await audit('root', `?since=${new Date(Date.now() + 3600_000).toISOString()}`);
      assert.deepEqual(future, []);
    });
  });

  describe('dev mode: sign-in, a change without the CSRF token, sign-out', () => {
    it('records them, and none of the cookies', async () => {
      const base = `http://127.0.0.1:${await freeLoopbackPort()}`;
      const gateway = await serve(env(base, { BERTH_AUTH_MODE: 'dev' }));
      try {
        const jar = new CookieJar();
        const login = await step(jar, `${base}/_berth/login`, { method: 'POST', form: { username: 'carol', next: '/' }, origin: base });
        assert.equal(login.status, 303);
        const session = jar.get('berth_session');
        assert.ok(session);
        secrets.push(session);
        const noToken = await fetch(`${base}/_berth/api/me/start`, { method: 'POST', headers: { cookie: jar.header(), origin: base } });
        assert.equal(noToken.status, 403);
        const bad = await step(new CookieJar(), `${base}/_berth/login`, { method: 'POST', form: { username: ' padded ', next: '/' }, origin: base });
        assert.equal(bad.status, 400);
        assert.equal((await step(jar, `${base}/_berth/logout`)).status, 303);
      } finally {
        await gateway.shutdown();
      }
    });
  });

  describe('oidc mode against a real OpenID provider', () => {
    it('records the sign-in, a replayed callback and the sign-out', async () => {
      const port = await freeLoopbackPort();
      const base = `http://127.0.0.1:${port}`;
      const provider = await startTestProvider({ gatewayUrl: base });
      const gateway = await serve(
        env(base, { BERTH_AUTH_MODE: 'oidc', BERTH_AUTH_OIDC_ISSUER: provider.issuer, BERTH_AUTH_OIDC_CLIENT_ID: 'berth', BERTH_AUTH_OIDC_CLIENT_SECRET: CLIENT_SECRET }),
      );
      try {
        const { callbackUrl, jar } = await signInUntilCallback(base, 'dave');
        const url = new URL(callbackUrl);
        secrets.push(url.searchParams.get('code') ?? '', url.searchParams.get('state') ?? '');
        for (const name of ['berth_oidc']) if (jar.get(name)) secrets.push(jar.get(name) as string);
        assert.equal((await step(jar, callbackUrl)).status, 303);
        const session = jar.get('berth_session');
        assert.ok(session);
        secrets.push(session);
        assert.equal((await step(new CookieJar(), callbackUrl)).status, 400, 'a replayed callback without its flow cookie');
        assert.equal((await step(jar, `${base}/_berth/logout`)).status, 303);
      } finally {
        await gateway.shutdown();
        await provider.close();
      }
    });
  });

  describe('the whole trail', () => {
    it('holds the dev and oidc events too, in the store and the file alike, and not one secret', async () => {
      const store = await Store.open(dataDir);
      let rows: Array<Record<string, unknown>>;
      try {
        rows = (await store.db.selectFrom('audit').selectAll().orderBy('id').execute()) as Array<Record<string, unknown>>;
      } finally {
        await store.close();
      }
      const kinds = (mode: string) => rows.filter((r) => r.via === mode).map((r) => r.kind);
      assert.ok(kinds('dev').includes('signin.succeeded'));
      assert.ok(kinds('dev').includes('signin.failed'), 'the unusable username');
      assert.ok(kinds('dev').includes('signout'));
      assert.ok(rows.some((r) => r.kind === 'csrf.refused' && String(r.detail).includes('/_berth/api/me/start')), 'the change without its CSRF token');
      assert.ok(rows.some((r) => r.kind === 'signin.succeeded' && r.via === 'oidc' && r.actor === 'dave'));
      assert.ok(rows.some((r) => r.kind === 'signin.failed' && r.via === 'oidc' && String(r.detail).includes('no valid flow cookie')));
      assert.ok(rows.some((r) => r.kind === 'signout' && r.via === 'oidc' && r.actor === 'dave'));

      const lines = readFileSync(auditFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.equal(lines.length, rows.length, 'every event in the store is in the file');
      assert.deepEqual(lines.map((l) => l.kind), rows.map((r) => r.kind));

      const table = JSON.stringify(rows);
      const file = readFileSync(auditFile, 'utf8');
      assert.ok(secrets.length >= 8, `the test collected its secrets (${secrets.length})`);
      for (const secret of secrets) {
        assert.ok(secret.length >= 16, 'only distinctive strings are searched for');
        assert.equal(table.includes(secret), false, `a secret (${secret.slice(0, 6)}…) is in the audit table`);
        assert.equal(file.includes(secret), false, `a secret (${secret.slice(0, 6)}…) is in the audit file`);
      }
    });
  });
});

/** The lines of an OpenSSH private key file that are the key's own (the first is a header every such file shares). */
function privateKeyLines(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('-----'))
    .slice(1)
    .filter((line) => line.length >= 16);
}

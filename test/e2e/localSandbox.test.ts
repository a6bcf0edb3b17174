import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { httpRequest } from '../helpers/http.js';
import { berthServe, CLI, stopServe, type Served } from '../helpers/serve.js';
import { background, clientOptions, makeKey, run, scratchDir, until, type ClientKey } from '../ssh/harness.js';

/**
 * `berth serve` on the default local runtime with header sign-in, as an
 * operator would try it first: berths run sandboxed (bubblewrap is present
 * here, .ci/run installs it). What a berth must not do is tried from inside,
 * over real ssh; what users need is tried through the gateway with curl's
 * peers: HTTP, an app host, ssh, sftp and ssh -L.
 */
describe('sandboxed local berths through berth serve', () => {
  let dataDir: string;
  let scratch: ReturnType<typeof scratchDir>;
  let keys: Record<'alice' | 'bob', ClientKey>;
  let gateway: Served;
  let sshPort: number;
  let httpPort: number;

  const as = (user: string, headers: Record<string, string> = {}) => ({ 'X-Forwarded-Preferred-Username': user, ...headers });
  const ssh = (user: 'alice' | 'bob', command: string, options: string[] = []) =>
    run('ssh', [...options, ...clientOptions(keys[user]), '-p', String(sshPort), `${user}@127.0.0.1`, '--', command], { timeoutMs: 60_000 });
  /** A TCP connect from inside a berth: exit 0 when it opens within a second. */
  const probe = (port: number) =>
    `node -e "require('net').connect(${port}, '127.0.0.1').on('connect', () => process.exit(0)).on('error', () => process.exit(1)); setTimeout(() => process.exit(2), 1000)"`;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-sandbox-e2e-'));
    scratch = scratchDir();
    keys = { alice: makeKey(scratch.dir, 'alice'), bob: makeKey(scratch.dir, 'bob') };
    httpPort = await freeLoopbackPort();
    sshPort = await freeLoopbackPort();
    gateway = await berthServe([], {
      BERTH_DATA_DIR: dataDir,
      BERTH_PUBLIC_URL: `http://gateway.test:${httpPort}`,
      BERTH_LISTEN_HTTP: `127.0.0.1:${httpPort}`,
      BERTH_LISTEN_SSH: `127.0.0.1:${sshPort}`,
      BERTH_AUTH_MODE: 'header',
      BERTH_APPS_DOMAIN: 'apps.test',
    });
    for (const user of ['alice', 'bob'] as const) {
      const added = await httpRequest(`http://127.0.0.1:${httpPort}/_berth/api/me/keys`, {
        method: 'POST',
        headers: as(user, { 'content-type': 'application/json' }),
        body: JSON.stringify({ key: keys[user].publicKey }),
      });
      assert.equal(added.status, 201, added.body);
    }
  });
  after(async () => {
    if (gateway) await stopServe(gateway, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
    scratch?.remove();
  });

  it('says at start that local berths are sandboxed', () => {
    assert.ok(gateway.lines.some((l) => l.sandbox === 'bwrap'), `no start line names the sandbox; logged: ${gateway.lines.map((l) => l.msg).join(' | ')}`);
  });

  it("serves each user's web app (the demo, from the gateway's masked install directory) through the gateway", { timeout: 90_000 }, async () => {
    for (const user of ['alice', 'bob']) {
      const reply = await httpRequest(`http://127.0.0.1:${httpPort}/hello`, { headers: as(user) });
      assert.equal(reply.status, 200, reply.body);
      assert.equal(reply.body, `Hello from ${user}'s berth.\n`);
    }
  });

  it("keeps a berth from dataDir/session.key, another user's home, the gateway's PID and another berth's port", { timeout: 90_000 }, async () => {
    const bobPort = Number((await ssh('bob', 'echo $PORT')).stdout.trim());
    assert.ok(bobPort > 0);
    assert.equal((await ssh('bob', probe(bobPort))).code, 0, 'bob reaches his own port from inside: the probe works');
    const attempts = {
      'read dataDir/session.key': await ssh('alice', `cat ${join(dataDir, 'session.key')}`),
      "list bob's home": await ssh('alice', `ls ${join(dataDir, 'homes', 'bob')}`),
      "signal the gateway's PID": await ssh('alice', `kill -TERM ${gateway.child.pid}`),
      "connect to bob's port": await ssh('alice', probe(bobPort)),
    };
    for (const [what, result] of Object.entries(attempts)) assert.notEqual(result.code, 0, `a berth could ${what}: ${JSON.stringify(result)}`);
    assert.equal(gateway.child.exitCode, null, 'the gateway still runs');
    assert.equal(readFileSync(join(dataDir, 'session.key')).length > 0, true);
  });

  it('shows over ssh what the web app wrote, in the same home', { timeout: 90_000 }, async () => {
    const page = await httpRequest(`http://127.0.0.1:${httpPort}/`, { headers: as('alice', { accept: 'text/html' }) });
    assert.equal(page.status, 200, page.body);
    const visits = await ssh('alice', 'cat ~/berth-demo-visits.txt');
    assert.equal(visits.code, 0, visits.stderr);
    assert.match(visits.stdout, /^\d+\n?$/);
  });

  it('gives ssh its own home and sftp and scp (both protocols) the same files', { timeout: 90_000 }, async () => {
    const home = join(dataDir, 'homes', 'alice');
    const wrote = await ssh('alice', 'cd && echo "from ssh" > note.txt && pwd');
    assert.equal(wrote.code, 0, wrote.stderr);
    assert.equal(wrote.stdout, `${home}\n`);
    const upload = join(scratch.dir, 'upload.txt');
    writeFileSync(upload, 'from sftp\n');
    const batch = join(scratch.dir, 'batch');
    writeFileSync(batch, `put ${upload} up.txt\nget note.txt ${join(scratch.dir, 'note.txt')}\n`);
    const sftp = await run('sftp', [...clientOptions(keys.alice), '-P', String(sshPort), '-b', batch, 'alice@127.0.0.1'], { timeoutMs: 60_000 });
    assert.equal(sftp.code, 0, sftp.stderr);
    assert.equal(readFileSync(join(scratch.dir, 'note.txt'), 'utf8'), 'from ssh\n');
    assert.equal((await ssh('alice', 'cat ~/up.txt')).stdout, 'from sftp\n', 'what sftp wrote, the shell sees');
    for (const [name, flags] of [['scp', []], ['scp -O', ['-O']]] as const) {
      const copied = join(scratch.dir, `${name.replace(/\W/g, '')}.txt`);
      const scp = (from: string, to: string) => run('scp', [...flags, ...clientOptions(keys.alice), '-P', String(sshPort), from, to], { timeoutMs: 60_000 });
      assert.equal((await scp(upload, 'alice@127.0.0.1:scp-up.txt')).code, 0, `${name} up`);
      assert.equal((await scp('alice@127.0.0.1:scp-up.txt', copied)).code, 0, `${name} down`);
      assert.equal(readFileSync(copied, 'utf8'), 'from sftp\n');
    }
  });

  it('reaches a server bound to loopback inside the berth through ssh -L and its app host', { timeout: 90_000 }, async () => {
    const inner = 5000 + (process.pid % 1000);
    const server = background('ssh', [
      ...clientOptions(keys.alice),
      '-p',
      String(sshPort),
      'alice@127.0.0.1',
      '--',
      `exec node -e "require('http').createServer((q, s) => s.end('inner ' + process.env.BERTH_USER)).listen(${inner}, '127.0.0.1')"`,
    ]);
    try {
      await until(async () => (await ssh('alice', probe(inner))).code === 0, 'the loopback server inside the berth');
      const local = await freeLoopbackPort();
      const forward = background('ssh', [...clientOptions(keys.alice), '-p', String(sshPort), '-N', '-L', `${local}:localhost:${inner}`, 'alice@127.0.0.1']);
      try {
        let body = '';
        await until(async () => {
          body = await httpRequest(`http://127.0.0.1:${local}/`).then((r) => r.body, () => '');
          return body !== '';
        }, 'the -L forward to answer');
        assert.equal(body, 'inner alice');
      } finally {
        await forward.stop();
      }
      const token = await httpRequest(`http://127.0.0.1:${httpPort}/_berth/api/me/tokens`, {
        method: 'POST',
        headers: as('alice', { 'content-type': 'application/json' }),
        body: JSON.stringify({ name: 'apps', scopes: ['apps'], expiresInSeconds: 600 }),
      });
      assert.equal(token.status, 201, token.body);
      const app = await httpRequest(`http://127.0.0.1:${httpPort}/`, {
        headers: { host: `alice-${inner}.apps.test:${httpPort}`, 'x-berth-token': (JSON.parse(token.body) as { token: string }).token },
      });
      assert.equal(app.status, 200, app.body);
      assert.equal(app.body, 'inner alice');
    } finally {
      await server.stop();
    }
  });
});

describe('berth serve on the local runtime with no configuration, and with the sandbox off or missing', () => {
  let dataDir: string;
  let bin: string;
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-sandbox-choice-'));
    // A PATH with what berths need here (sh) and no bwrap: a machine without bubblewrap.
    bin = mkdtempSync(join(tmpdir(), 'berth-no-bwrap-'));
    symlinkSync('/bin/sh', join(bin, 'sh'));
  });
  after(() => {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(bin, { recursive: true, force: true });
  });

  /** Signs in with the dev login form and fetches the demo app's /hello with the session cookie. */
  const hello = async (gateway: Served, user: string) => {
    const login = await httpRequest(`${gateway.base}/_berth/login`, {
      method: 'POST',
      // The form posts from the gateway's own pages, at the default publicUrl.
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: configSchema.parse({}).publicUrl },
      body: `username=${user}`,
    });
    assert.equal(login.status, 303, login.body);
    const cookie = ([login.headers['set-cookie']].flat()[0] ?? '').split(';')[0] ?? '';
    const reply = await httpRequest(`${gateway.base}/hello`, { headers: { cookie } });
    assert.equal(reply.status, 200, reply.body);
    assert.equal(reply.body, `Hello from ${user}'s berth.\n`);
  };
  /** Nothing configured but where to keep data (each test its own) and no SSH listener (its default port may be taken here). */
  const bare = (name: string) => ({ BERTH_DATA_DIR: join(dataDir, name), BERTH_LISTEN_SSH: 'null' });

  it('serves the demo app sandboxed with nothing configured', { timeout: 90_000 }, async () => {
    const gateway = await berthServe([], bare('plain'));
    try {
      assert.ok(gateway.lines.some((l) => l.sandbox === 'bwrap'), 'sandboxed by default where bubblewrap works');
      await hello(gateway, 'carol');
    } finally {
      await stopServe(gateway, 'SIGTERM');
    }
  });

  it('runs unsandboxed with dev sign-in where bubblewrap is missing, and says how to install it', { timeout: 90_000 }, async () => {
    const gateway = await berthServe([], { ...bare('missing'), PATH: bin });
    try {
      const warning = gateway.lines.find((l) => typeof l.msg === 'string' && l.msg.includes('without a sandbox'));
      assert.ok(warning, 'a warning at start');
      assert.match(String(warning.msg), /bwrap is not installed.*apt-get install bubblewrap/);
      await hello(gateway, 'erin');
    } finally {
      await stopServe(gateway, 'SIGTERM');
    }
  });

  it('refuses to start with header sign-in and sandbox: off, saying why and how to fix it; starts when allowUnsandboxed', { timeout: 90_000 }, async () => {
    const env = { ...bare('off'), BERTH_AUTH_MODE: 'header', BERTH_RUNTIME_LOCAL_SANDBOX: 'off' };
    const refused = spawnSync(process.execPath, [...CLI, 'serve'], { env: { ...process.env, ...env, BERTH_LISTEN_HTTP: '127.0.0.1:0' }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /^berth: Local berths would run without a sandbox \(runtime\.local\.sandbox is "off"\): .*session key.*apt-get install bubblewrap.*runtime\.local\.allowUnsandboxed: true/);
    const allowed = await berthServe([], { ...env, BERTH_RUNTIME_LOCAL_ALLOW_UNSANDBOXED: 'true' });
    try {
      assert.ok(!allowed.lines.some((l) => l.sandbox === 'bwrap'));
      const reply = await httpRequest(`${allowed.base}/hello`, { headers: { 'X-Forwarded-Preferred-Username': 'dave' } });
      assert.equal(reply.status, 200, reply.body);
      assert.equal(reply.body, "Hello from dave's berth.\n");
    } finally {
      await stopServe(allowed, 'SIGTERM');
    }
  });
});

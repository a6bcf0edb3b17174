import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, test } from 'node:test';
import pg from 'pg';
import WebSocket from 'ws';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { engine, removeByPrefix, withEngine } from '../helpers/docker.js';
import { writeGatewayConfig } from '../helpers/gatewayConfig.js';
import { containersOf } from '../helpers/gatewaysOnPostgres.js';
import { eventually, httpRequest, type Reply } from '../helpers/http.js';
import { CLIENT_ID, CLIENT_SECRET, CookieJar, signInUntilCallback, startTestProvider, step, type TestProvider } from '../helpers/oidcProvider.js';
import { postgresForTests } from '../helpers/postgres.js';
import { berthServe, stopServe, type Served } from '../helpers/serve.js';
import { nginxMissing, readmeNginxBlock, runNginx, type Nginx } from '../proxies/nginx.js';

/*
 * Three `berth serve` processes on one PostgreSQL and one Docker engine,
 * behind a real nginx running the README's several-gateways block
 * (round-robin, no stickiness, on to the next upstream when one refuses),
 * signing in through a real OpenID provider, reached with OpenSSH's `ssh`.
 * One set-up serves every step, in order: each step leaves the three
 * gateways running. Steps that must land on a given gateway talk to its
 * own listener, as nginx would (same publicUrl, Origin and cookies).
 */

const NODE_IMAGE = 'berth-test/node20:latest';
const APPS_DOMAIN = 'apps.test';
const BERTH = readFileSync(fileURLToPath(new URL('fixtures/tickingBerth.cjs', import.meta.url)), 'utf8');
/** Short idle times, so the culler steps take seconds: stop after 8 s idle, looked at every second. */
const IDLE_SECONDS = 8;

interface Gateway {
  name: string;
  httpPort: number;
  sshPort: number;
  configFile: string;
  served: Served;
  /** http://127.0.0.1:<its own port>, behind nginx. */
  base: string;
}

interface BerthAnswer {
  user: string;
  host: string;
}

const cluster = await postgresForTests('three gateways behind nginx');
const missing = nginxMissing() ?? (await engine.getImage(NODE_IMAGE).inspect().then(() => null, () => `${NODE_IMAGE} is missing; build it with: bash scripts/build-test-images.sh`));

await withEngine('three gateways behind nginx', () => {
  if (cluster === null) return;
  if (missing !== null) {
    if (process.env.CI === 'true') test('three gateways behind nginx: nginx and the node image are there (CI)', () => assert.fail(missing));
    else test('three gateways behind nginx', { skip: missing }, () => undefined);
    return;
  }

  describe('three gateways on one PostgreSQL behind nginx round-robin', { timeout: 300_000 }, () => {
    const prefix = `b16e-${randomBytes(3).toString('hex')}`;
    const network = `${prefix}-net`;
    const dir = mkdtempSync(join(tmpdir(), 'b16e-'));
    const keysDir = join(dir, 'authorized_keys');
    const sshKey = join(dir, 'id_ed25519');
    const knownHosts = join(dir, 'known_hosts');
    let publicUrl: string;
    let nginxPort: number;
    let nginx: Nginx;
    let provider: TestProvider;
    let storeUrl: string;
    const gateways: Gateway[] = [];
    /** Session cookies ("berth_session=…") by user, signed in once. */
    const sessions = new Map<string, string>();

    const start = async (gateway: Gateway) => {
      gateway.served = await berthServe(['--config', gateway.configFile], { BERTH_LISTEN_HTTP: `127.0.0.1:${gateway.httpPort}` }, 60_000);
    };
    const gatewayOutput = () => gateways.map((g) => `--- ${g.name} (exit ${g.served.child.exitCode}):\n${g.served.output()}`).join('\n');

    /** A request to `url`'s path on `base` (nginx or one gateway) with `url`'s host in the Host header, as a browser resolving it there sends. */
    const onHost = (base: string, url: string, headers: Record<string, string> = {}, timeoutMs = 45_000): Promise<Reply> => {
      const target = new URL(url);
      return httpRequest(`${base}${target.pathname}${target.search}`, { headers: { host: target.host, ...headers }, timeoutMs });
    };
    const asUser = (user: string, extra: Record<string, string> = {}) => ({ cookie: session(user), accept: 'application/json', ...extra });
    const session = (user: string) => {
      const cookie = sessions.get(user);
      assert.ok(cookie, `${user} is signed in`);
      return cookie;
    };
    /** GET / for `user` through `base`, waiting for the berth (a non-HTML request is held until it is ready). */
    const berthOf = async (user: string, base = publicUrl): Promise<BerthAnswer> => {
      const reply = await httpRequest(`${base}/`, { headers: asUser(user), timeoutMs: 45_000 });
      assert.equal(reply.status, 200, `${user}'s berth through ${base}: ${reply.body}`);
      return JSON.parse(reply.body) as BerthAnswer;
    };

    /** Runs `work` while `user` keeps using the berth through nginx (a request every 2 s), so idle.stopAfterSeconds, short here, does not stop it meanwhile. */
    const keptBusy = async <T>(user: string, work: () => Promise<T>): Promise<T> => {
      let busy = true;
      const using = (async () => {
        while (busy) {
          await httpRequest(`${publicUrl}/busy`, { headers: asUser(user) }).catch(() => undefined);
          await new Promise((r) => setTimeout(r, 2_000));
        }
      })();
      try {
        return await work();
      } finally {
        busy = false;
        await using;
      }
    };

    /** Signs `login` in through nginx (sign-in form, provider, callback): its session cookie. */
    const signIn = async (login: string, jar = new CookieJar(), loginAt = publicUrl, callbackAt = publicUrl) => {
      const { callbackUrl } = await signInUntilCallback(publicUrl, login, jar, loginAt);
      const back = await step(jar, callbackUrl.replace(publicUrl, callbackAt));
      // The page says only that the provider did not answer; the gateways' warnings say why.
      const warnings = () => gateways.flatMap((g) => g.served.lines.filter((l) => Number(l.level) >= 40).map((l) => `${g.name}: ${JSON.stringify(l)}`));
      assert.equal(back.status, 303, `${await back.text()}\n${warnings().join('\n')}`);
      const cookie = jar.get('berth_session');
      assert.ok(cookie, 'the callback set the session cookie');
      sessions.set(login, `berth_session=${cookie}`);
      return `berth_session=${cookie}`;
    };

    /** OpenSSH's ssh to one gateway's SSH port, all of them under one known_hosts name, as one DNS name in front of them would be. */
    const sshArgs = (gateway: Gateway, user: string, command: string, strict = 'yes') => [
      '-i', sshKey, '-p', String(gateway.sshPort), '-o', `UserKnownHostsFile=${knownHosts}`, '-o', `StrictHostKeyChecking=${strict}`,
      '-o', 'HostKeyAlias=berth-gateways', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', `${user}@127.0.0.1`, command,
    ];
    const ssh = (gateway: Gateway, user: string, command: string, strict = 'yes') =>
      execFileSync('ssh', sshArgs(gateway, user, command, strict), { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const allowSsh = (user: string) => writeFileSync(join(keysDir, user), readFileSync(`${sshKey}.pub`));

    const container = async (user: string) => {
      const list = await containersOf(prefix, user);
      assert.equal(list.length, 1, `exactly one container of ${user}: ${list.map((c) => c.Names.join()).join(' ')}`);
      return list[0] as (typeof list)[number];
    };
    const leaseOf = async (user: string) => {
      const client = new pg.Client({ connectionString: storeUrl });
      await client.connect();
      try {
        const { rows } = await client.query<{ holder: string; generation: string; state: string }>('select holder, generation, state from spawn_leases where "user" = $1', [user]);
        return rows[0];
      } finally {
        await client.end();
      }
    };

    before(async () => {
      nginxPort = await freeLoopbackPort();
      publicUrl = `http://127.0.0.1:${nginxPort}`;
      storeUrl = await cluster.freshDatabase();
      provider = await startTestProvider({ gatewayUrl: publicUrl });
      mkdirSync(keysDir);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', sshKey]);
      for (const name of ['a', 'b', 'c']) {
        const [httpPort, sshPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
        const home = join(dir, name);
        mkdirSync(home);
        const configFile = join(home, 'berth.yaml');
        writeGatewayConfig(configFile, {
          dataDir: join(home, 'data'),
          publicUrl,
          listen: { http: `127.0.0.1:${httpPort}`, ssh: `127.0.0.1:${sshPort}` },
          log: { level: 'info', format: 'json' },
          store: { kind: 'postgres', url: storeUrl },
          auth: { mode: 'oidc', oidc: { issuer: provider.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET } },
          apps: { domain: APPS_DOMAIN },
          runtime: { kind: 'docker', docker: { namePrefix: prefix, network } },
          environment: { image: NODE_IMAGE, command: ['node', '-e', BERTH] },
          // Signing in starts nothing here: the first requests below are the berth's first.
          spawn: { stopGraceSeconds: 1, holdSeconds: 40, startOnSignIn: false },
          idle: { stopAfterSeconds: IDLE_SECONDS, checkEverySeconds: 1 },
          http: { shutdownGraceSeconds: 2 },
          ssh: { authorizedKeysDir: keysDir },
        });
        gateways.push({ name, httpPort, sshPort, configFile, base: `http://127.0.0.1:${httpPort}`, served: undefined as unknown as Served });
      }
      await Promise.all(gateways.map(start));
      const server = readmeNginxBlock('upstream berth')
        .replace(/( *)server 10\.0\.0\.11:8000( [^;]+)?;\n(?: *server 10\.0\.0\.\d+:8000[^;]*;\n)*/, (_all, indent: string, parameters = '') =>
          gateways.map((g) => `${indent}server 127.0.0.1:${g.httpPort}${parameters};\n`).join(''),
        )
        .replace('listen 80;', `listen 127.0.0.1:${nginxPort};`);
      assert.equal(server.match(/server 127\.0\.0\.1:\d+ fail_timeout=1s;/g)?.length, 3, server);
      nginx = await runNginx(mkdtempSync(join(tmpdir(), 'b16e-nginx-')), nginxPort, server);
    });

    after(async () => {
      await Promise.all(gateways.map((g) => g.served && stopServe(g.served, 'SIGKILL')));
      await nginx?.close();
      await provider?.close();
      await removeByPrefix(prefix, [network]);
      rmSync(dir, { recursive: true, force: true });
    });

    it('signs in with OIDC when the form, the callback and the first page each land on a different gateway', async () => {
      const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
      const cookie = await signIn('alice', new CookieJar(), a.base, b.base);
      const me = await httpRequest(`${c.base}/_berth/api/me`, { headers: { cookie } });
      assert.equal(me.status, 200, me.body);
      assert.equal((JSON.parse(me.body) as { user: { name: string } }).user.name, 'alice');
    });

    it('makes one container for 60 concurrent first requests of one user spread over the three, and answers every one', async () => {
      const cookie = session('alice');
      const replies = await Promise.all(
        Array.from({ length: 60 }, (_, i) => httpRequest(`${publicUrl}/first-${i}`, { headers: { cookie, accept: i % 3 === 0 ? 'text/html' : 'application/json' }, timeoutMs: 45_000 })),
      );
      const made = await container('alice');
      for (const [i, reply] of replies.entries()) {
        assert.equal(reply.status, 200, `request ${i}: ${reply.body.slice(0, 200)}`);
        if (reply.headers['content-type']?.toString().startsWith('application/json')) {
          assert.deepEqual(JSON.parse(reply.body), { user: 'alice', host: made.Id.slice(0, 12), url: `/first-${i}` });
        } else {
          assert.match(reply.body, /<html|<!doctype/i, `request ${i} got the loading page or the berth`);
        }
      }
      // nginx spread the first requests: each gateway was asked to start the berth, and one made it.
      for (const gateway of gateways) assert.ok(gateway.served.lines.some((l) => l.msg === 'starting berth' && l.user === 'alice'), `${gateway.name} got first requests`);
      assert.equal(gateways.filter((g) => g.served.lines.some((l) => l.msg === 'berth ready' && l.user === 'alice')).length, 1, 'one gateway spawned it');
      // Every gateway knows the berth and serves it from that one container.
      for (const gateway of gateways) assert.equal((await berthOf('alice', gateway.base)).host, made.Id.slice(0, 12), gateway.name);
    });

    it('signs in on an app host when the page, the authorize step and the callback each land on a different gateway', async () => {
      const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
      const app = `http://alice-8080.${APPS_DOMAIN}:${nginxPort}`;
      const toAuthorize = await onHost(a.base, `${app}/some/page`, { accept: 'text/html' });
      assert.ok([302, 303].includes(toAuthorize.status), `${toAuthorize.status} ${toAuthorize.body}`);
      const authorizeUrl = new URL(String(toAuthorize.headers.location), app).href;
      assert.ok(authorizeUrl.startsWith(`${publicUrl}/_berth/apps/authorize`), authorizeUrl);
      const toCallback = await onHost(b.base, authorizeUrl, { cookie: session('alice'), accept: 'text/html' });
      assert.equal(toCallback.status, 303, toCallback.body);
      const callbackUrl = String(toCallback.headers.location);
      assert.ok(callbackUrl.startsWith(`${app}/_berth/apps/callback?code=`), callbackUrl);
      const landed = await onHost(c.base, callbackUrl, { accept: 'text/html' });
      assert.equal(landed.status, 303, landed.body);
      const appCookie = String((landed.headers['set-cookie'] as string[])[0]).split(';')[0] as string;
      assert.match(appCookie, /^berth_app=/);
      const page = await onHost(publicUrl, `${app}/some/page`, { cookie: appCookie, accept: 'application/json' });
      assert.equal(page.status, 200, page.body);
      assert.deepEqual(JSON.parse(page.body), { user: 'alice', host: (await container('alice')).Id.slice(0, 12), url: '/some/page' });
      // The code was spent on one gateway: another refuses it.
      const replay = await onHost(a.base, callbackUrl, { accept: 'text/html' });
      assert.equal(replay.status, 401, replay.body);
      assert.equal(replay.headers['set-cookie'], undefined, 'a replayed code sets no cookie');
    });

    it('shows the same host key and the same berth to `ssh` on every gateway (one known_hosts, StrictHostKeyChecking=yes)', () => {
      allowSsh('alice');
      const [a] = gateways as [Gateway];
      // Trust on first use at one gateway; the others must match that one line.
      const hosts = [ssh(a, 'alice', 'cat /etc/hostname', 'accept-new').trim()];
      assert.equal(readFileSync(knownHosts, 'utf8').trim().split('\n').length, 1);
      for (const gateway of gateways) hosts.push(ssh(gateway, 'alice', 'cat /etc/hostname; echo "$BERTH_USER"').trim());
      assert.equal(new Set(hosts.map((h) => h.split('\n')[0])).size, 1, hosts.join(' | '));
      assert.deepEqual(hosts.slice(1).map((h) => h.split('\n')[1]), ['alice', 'alice', 'alice']);
      assert.equal(readFileSync(knownHosts, 'utf8').trim().split('\n').length, 1, 'no new host key was learnt');
    });

    it('finishes on another gateway the spawn of a gateway SIGKILLed while holding its lease: one container, no orphan', async () => {
      const b = gateways[1] as Gateway;
      await signIn('slowsam');
      // Only b is asked: b takes the lease and creates the container, whose port opens 6 s later.
      const loading = await httpRequest(`${b.base}/`, { headers: asUser('slowsam', { accept: 'text/html' }) });
      assert.equal(loading.status, 200, loading.body);
      const made = await eventually(() => containersOf(prefix, 'slowsam').then((l) => (l.length === 1 ? l[0] : undefined)), 30_000, 'the slow berth\'s container');
      const held = await leaseOf('slowsam');
      assert.deepEqual([held?.state, held?.generation], ['spawning', '1']);
      await stopServe(b.served, 'SIGKILL');

      const served = await berthOf('slowsam');
      assert.equal(served.host, made.Id.slice(0, 12), 'the container b made, adopted');
      assert.equal((await container('slowsam')).Id, made.Id, 'no orphan, no duplicate');
      const finished = await leaseOf('slowsam');
      assert.equal(finished?.state, 'ready');
      assert.equal(finished?.generation, '2', 'taken over once');
      assert.notEqual(finished?.holder, held?.holder, 'finished by another gateway');
      await keptBusy('slowsam', () => start(b));
      assert.equal((await berthOf('slowsam', b.base)).host, made.Id.slice(0, 12), 'b, back, serves the same berth');
    });

    /** Four clients sending alice's requests through nginx, each one at a time with a short pause, until stopped: a steady load, bounded by the test's steps. */
    const steadyLoad = () => {
      const cookie = session('alice');
      const load = { sent: 0, failures: [] as string[] };
      let loading = true;
      const clients = Promise.all(
        Array.from({ length: 4 }, async () => {
          while (loading) {
            load.sent++;
            try {
              const reply = await httpRequest(`${publicUrl}/load`, { headers: { cookie, accept: 'application/json' }, timeoutMs: 20_000 });
              if (reply.status !== 200 || !reply.body.includes('"user":"alice"')) load.failures.push(`${reply.status} ${reply.body.slice(0, 200)}`);
            } catch (err) {
              load.failures.push((err as Error).message);
            }
            await new Promise((r) => setTimeout(r, 20));
          }
        }),
      );
      const stop = async () => {
        loading = false;
        await clients;
      };
      return Object.assign(load, { stop });
    };

    it('fails no request through nginx and drops no WebSocket of another gateway while each gateway in turn is stopped with SIGTERM', async () => {
      const cookie = session('alice');
      await berthOf('alice');
      const load = steadyLoad();
      const sockets = new Map<Gateway, WebSocket[]>();
      const openSockets = async (gateway: Gateway) => {
        const opened = await Promise.all(
          [1, 2].map(
            () =>
              new Promise<WebSocket>((resolve, reject) => {
                const ws = new WebSocket(`ws://127.0.0.1:${gateway.httpPort}/ws`, { headers: { cookie, origin: publicUrl } });
                ws.once('message', () => resolve(ws));
                ws.once('error', reject);
              }),
          ),
        );
        sockets.set(gateway, opened);
      };
      try {
        for (const gateway of gateways) await openSockets(gateway);
        for (const stopped of gateways) {
          const ticksBefore = new Map<WebSocket, number>();
          const ticks = new Map<WebSocket, number>();
          const others = gateways.filter((g) => g !== stopped).flatMap((g) => sockets.get(g) ?? []);
          for (const ws of others) {
            ticks.set(ws, 0);
            ws.on('message', () => ticks.set(ws, (ticks.get(ws) ?? 0) + 1));
          }
          const sentBefore = load.sent;
          assert.equal(await stopServe(stopped.served, 'SIGTERM'), 0, `${stopped.name} exits 0 on SIGTERM`);
          const own = sockets.get(stopped) ?? [];
          await eventually(async () => (own.every((ws) => ws.readyState !== WebSocket.OPEN) ? true : undefined), 5_000, `${stopped.name}'s own WebSockets to close`);
          for (const ws of others) ticksBefore.set(ws, ticks.get(ws) ?? 0);
          await start(stopped);
          // Requests kept flowing while it was gone, and the other gateways' WebSockets kept ticking.
          await eventually(async () => (load.sent - sentBefore > 20 && others.every((ws) => (ticks.get(ws) ?? 0) > (ticksBefore.get(ws) ?? 0)) ? true : undefined), 10_000, 'load and ticks after the restart');
          for (const ws of others) {
            ws.removeAllListeners('message');
            assert.equal(ws.readyState, WebSocket.OPEN, `a WebSocket on another gateway than ${stopped.name} stayed open`);
          }
          await openSockets(stopped);
        }
      } finally {
        await load.stop();
        for (const ws of [...sockets.values()].flat()) ws.terminate();
      }
      assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.sent} requests failed; nginx said: ${nginx.errorLog()}`);
      assert.ok(load.sent > 100, `a steady load was sent (${load.sent} requests)`);
      // Requests did meet a gateway that was gone, and nginx passed them on to the next (proxy_next_upstream).
      assert.match(nginx.errorLog(), /Connection refused\) while connecting to upstream/);
    });

    /*
     * With nginx's default fail_timeout (10 s), one refused connection kept a
     * gateway out of turn for 10 s: once each of the three had refused one
     * within that time, nginx answered "no live upstreams" (502) while two of
     * them were up. Here each is restarted as soon as the one before is back.
     */
    it("fails no request through nginx while the three gateways restart one right after another, quicker than nginx's default fail_timeout", async () => {
      await berthOf('alice');
      const load = steadyLoad();
      const began = Date.now();
      try {
        for (const gateway of gateways) {
          // The error log holds the last test's refusals too: this waits for one more.
          const refusals = () =>
            nginx
              .errorLog()
              .split('\n')
              .filter((line) => line.includes('Connection refused) while connecting to upstream') && line.includes(`upstream: "http://127.0.0.1:${gateway.httpPort}/`)).length;
          const before = refusals();
          assert.equal(await stopServe(gateway.served, 'SIGTERM'), 0, `${gateway.name} exits 0 on SIGTERM`);
          await eventually(async () => (refusals() > before ? true : undefined), 10_000, `nginx to meet ${gateway.name} refusing`);
          await start(gateway);
        }
      } finally {
        await load.stop();
      }
      const took = Date.now() - began;
      assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.sent} requests failed in ${took} ms; nginx said: ${nginx.errorLog()}`);
    });

    it('culls on time after the culler\'s leader is killed, and keeps alive a berth whose ssh session is on a non-leader', async () => {
      const running = (g: Gateway) => g.served.child.exitCode === null && g.served.child.signalCode === null;
      const leaderOf = () => gateways.find((g) => running(g) && g.served.lines.some((l) => l.msg === 'this gateway now runs the culler'));
      const leader = await eventually(async () => leaderOf(), 10_000, 'a culler leader');
      await stopServe(leader.served, 'SIGKILL');
      const next = await eventually(async () => leaderOf(), 15_000, 'another gateway to take the culler over');
      assert.notEqual(next, leader);
      // Back as a follower while the rest goes on: the steps below need only the other two.
      const restarted = start(leader);
      const holder = gateways.find((g) => g !== leader && g !== next) as Gateway;

      await signIn('dave');
      await signIn('erin');
      allowSsh('erin');
      await Promise.all([berthOf('dave'), berthOf('erin')]);
      const idleSince = Date.now();
      // erin's session, on the gateway that does not cull, is her only activity from now on.
      const held = spawn('ssh', sshArgs(holder, 'erin', 'echo held; sleep 120'), { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        await new Promise<void>((resolve, reject) => {
          held.stdout.once('data', () => resolve());
          held.once('exit', (code) => reject(new Error(`ssh exited ${code}`)));
        });
        const berthRuns = async (user: string) => (await engine.getContainer((await container(user)).Id).inspect()).State.Running;
        await eventually(async () => ((await berthRuns('dave')) ? undefined : true), (IDLE_SECONDS + 15) * 1000, 'dave\'s idle berth to be culled');
        const culledAfter = (Date.now() - idleSince) / 1000;
        assert.ok(culledAfter >= IDLE_SECONDS - 1, `not before its idle time (${culledAfter} s)`);
        assert.ok(culledAfter <= IDLE_SECONDS + 8, `on time: ${culledAfter} s after its last request (idle.stopAfterSeconds ${IDLE_SECONDS})`);
        // Well past erin's own idle time too: her session on the non-leader keeps her berth.
        await new Promise((r) => setTimeout(r, Math.max(0, (IDLE_SECONDS + 4) * 1000 - (Date.now() - idleSince))));
        assert.equal(await berthRuns('erin'), true, 'erin\'s berth, held by her ssh session, still runs');
      } finally {
        held.kill();
      }
      await restarted;
    });

    it('recovers from a PostgreSQL restart without restarting any gateway', async () => {
      const pids = gateways.map((g) => g.served.child.pid);
      cluster.down();
      await Promise.all(
        gateways.map((g) => eventually(() => httpRequest(`${g.base}/_berth/healthz`).then((r) => (r.status === 503 ? true : undefined)), 15_000, `${g.name} to report the store down`)),
      );
      cluster.up();
      await Promise.all(
        gateways.map((g) => eventually(() => httpRequest(`${g.base}/_berth/healthz`).then((r) => (r.status === 200 ? true : undefined)), 30_000, `${g.name} to recover`)),
      );
      for (const gateway of gateways) {
        const tokens = await httpRequest(`${gateway.base}/_berth/api/me/tokens`, { headers: { cookie: session('alice') } });
        assert.equal(tokens.status, 200, `${gateway.name}: ${tokens.body}`);
        assert.equal((await httpRequest(`${gateway.base}/_berth/readyz`)).status, 200);
      }
      // A new sign-in and a new berth: both need the store.
      await signIn('frank');
      assert.equal((await berthOf('frank')).user, 'frank');
      assert.deepEqual(gateways.map((g) => g.served.child.pid), pids, 'no gateway was restarted');
      assert.ok(gateways.every((g) => g.served.child.exitCode === null), gatewayOutput());
    });
  });
});

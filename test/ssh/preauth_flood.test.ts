import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { Writable } from 'node:stream';
import { raiseFileLimit, readFileLimit } from '../../src/cli/fileLimit.js';
import { createLogger } from '../../src/log/logger.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { httpRequest } from '../helpers/http.js';
import { berthServe, stopServe, type Served } from '../helpers/serve.js';
import { clientOptions, makeKey, run, scratchDir, until, type ClientKey } from './harness.js';

/**
 * Guards the failure where TCP connections that never authenticate (silent,
 * a partial version line, garbage) were held for minutes, so a flood of them
 * used up the gateway's file descriptors and took HTTP down with SSH. A real
 * `berth serve` with the default ssh.maxStartups (10:30:100) and
 * ssh.perSourceMaxStartups (8), started with a low soft open-file limit, is
 * flooded with hundreds of idle pre-auth connections from loopback addresses;
 * real `ssh` logins and /_berth/healthz must keep answering, the drops must be
 * logged, and every idle connection must be gone after ssh.loginGraceSeconds.
 */
const GRACE_SECONDS = 3;
const SOFT_LIMIT = 512;
/** The default ssh.perSourceMaxStartups. */
const PER_SOURCE = 8;
const HARD_LIMIT = 4096;

interface Held {
  socket: Socket;
  /** The server closed it (or it never connected). */
  closed: boolean;
  received: string;
}

/** Opens `count` connections from `localAddress` that each send `send` (maybe nothing) and then sit idle. */
async function hold(port: number, localAddress: string, count: number, send: string): Promise<Held[]> {
  const opened = Array.from({ length: count }, () => {
    const held: Held = { socket: connect({ host: '127.0.0.1', port, localAddress }), closed: false, received: '' };
    held.socket.on('data', (chunk: Buffer) => (held.received += chunk.toString('latin1')));
    held.socket.on('error', () => undefined);
    held.socket.once('close', () => (held.closed = true));
    return new Promise<Held>((resolve) => {
      held.socket.once('connect', () => {
        if (send) held.socket.write(send);
        resolve(held);
      });
      held.socket.once('close', () => resolve(held));
    });
  });
  return Promise.all(opened);
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

describe('SSH connections that never authenticate (berth serve)', () => {
  let dataDir: string;
  let scratch: ReturnType<typeof scratchDir>;
  let key: ClientKey;
  let sshPort: number;
  let gateway: Served;
  const held: Held[] = [];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-preauth-'));
    scratch = scratchDir();
    key = makeKey(scratch.dir, 'alice');
    const keysDir = join(scratch.dir, 'authorized');
    mkdirSync(keysDir);
    writeFileSync(join(keysDir, 'alice'), `${key.publicKey}\n`);
    sshPort = await freeLoopbackPort();
    const httpPort = await freeLoopbackPort();
    gateway = await berthServe(
      [],
      {
        BERTH_DATA_DIR: dataDir,
        BERTH_PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
        BERTH_LISTEN_HTTP: `127.0.0.1:${httpPort}`,
        BERTH_LISTEN_SSH: `127.0.0.1:${sshPort}`,
        BERTH_SSH_AUTHORIZED_KEYS_DIR: keysDir,
        BERTH_SSH_LOGIN_GRACE_SECONDS: String(GRACE_SECONDS),
        BERTH_LOG_LEVEL: 'debug',
      },
      30_000,
      ['prlimit', `--nofile=${SOFT_LIMIT}:${HARD_LIMIT}`],
    );
  });
  after(async () => {
    for (const h of held) h.socket.destroy();
    await stopServe(gateway, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    scratch.remove();
  });

  const login = () => run('ssh', [...clientOptions(key), '-p', String(sshPort), 'alice@127.0.0.1', '--', 'echo "in as $BERTH_USER"'], { timeoutMs: 60_000 });
  const healthy = async () => (await httpRequest(`${gateway.base}/_berth/healthz`, { timeoutMs: 5000 })).status;

  it('runs with its soft open-file limit at the hard limit, though started with less, and logs it', async () => {
    const pid = gateway.child.pid as number;
    assert.deepEqual(await readFileLimit(pid), { soft: HARD_LIMIT, hard: HARD_LIMIT });
    const logged = gateway.lines.find((l) => l.msg === 'open-file soft limit is at the hard limit');
    assert.ok(logged, gateway.output());
    assert.equal(logged.soft, HARD_LIMIT);
  });

  it('raises a soft open-file limit left below the hard one (Node started without raising it) with prlimit, and logs it', async () => {
    const before = await readFileLimit();
    assert.ok(before && before.hard > SOFT_LIMIT);
    const lowered = await run('prlimit', ['--pid', String(process.pid), `--nofile=${SOFT_LIMIT}:${before.hard}`]);
    assert.equal(lowered.code, 0, lowered.stderr);
    const records: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        records.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        callback();
      },
    });
    await raiseFileLimit(createLogger('info', sink));
    assert.deepEqual(await readFileLimit(), before);
    await until(() => records.length > 0, 'the log line');
    assert.equal(records[0]?.msg, 'raised the open-file soft limit to the hard limit');
    assert.equal(records[0]?.from, SOFT_LIMIT);
    assert.equal(records[0]?.to, before.hard);
  });

  it('takes at most ssh.perSourceMaxStartups from one address, so logins from others keep working during its flood', { timeout: 120_000 }, async () => {
    assert.equal((await login()).stdout, 'in as alice\n', 'a login before the flood');
    const flooder = '127.0.0.2';
    // Silent, a version line cut short, garbage before a version line, one byte short of the line's end.
    const kinds = ['', 'SSH-2.0-', 'GET / HTTP/1.1\r\nHost: x\r\n\r\nSSH-2.0-OpenSSH_9.2', 'SSH-2.0-Flood\r'];
    for (const send of kinds) held.push(...(await hold(sshPort, flooder, 100, send)));
    await until(() => held.filter((h) => h.closed).length >= held.length - PER_SOURCE, `the gateway to refuse all but ${PER_SOURCE} of 400 connections from one address`);
    const refused = held.filter((h) => h.closed);
    assert.equal(refused.length, held.length - PER_SOURCE);
    assert.ok(refused.every((h) => h.received.includes('berth: too many connections are authenticating; try again shortly')), 'a refused client is told why');

    for (let i = 0; i < 3; i++) {
      const result = await login();
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'in as alice\n');
    }
    assert.equal(await healthy(), 200);
    const dropped = gateway.lines.find((l) => l.code === 'per_source_max_startups');
    assert.ok(dropped, 'the first drop is logged');
    assert.equal(dropped.remote, flooder);

    await until(() => held.every((h) => h.closed), `the ${PER_SOURCE} idle connections to be cut after ssh.loginGraceSeconds (${GRACE_SECONDS} s)`, (GRACE_SECONDS + 5) * 1000);
    const expired = gateway.lines.filter((l) => l.code === 'login_grace_expired');
    assert.equal(expired.length, PER_SOURCE);
    await until(() => gateway.lines.some((l) => l.code === 'ssh_startups_dropped'), 'the summary of the drops', 15_000);
    const summary = gateway.lines.find((l) => l.code === 'ssh_startups_dropped');
    assert.equal(summary?.dropped, held.length - PER_SOURCE - 1, 'the summary counts the drops after the first');
    assert.deepEqual(summary?.sources, { [flooder]: held.length - PER_SOURCE - 1 });
    const metrics = (await httpRequest(`${gateway.base}/_berth/metrics`)).body;
    assert.match(metrics, new RegExp(`^berth_ssh_dropped_connections_total\\{code="per_source_max_startups"\\} ${held.length - PER_SOURCE}$`, 'm'));
    assert.match(metrics, new RegExp(`^berth_ssh_dropped_connections_total\\{code="login_grace_expired"\\} ${PER_SOURCE}$`, 'm'));
  });

  it('disconnects a client that finished the key exchange but never authenticates, with the reason', { timeout: 60_000 }, async () => {
    const debug: string[] = [];
    // ssh2's client, since OpenSSH's cannot be held at the authentication step without a terminal; it logs the DISCONNECT it gets.
    const client = new ssh2.Client();
    client.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    const began = Date.now();
    client.connect({ host: '127.0.0.1', port: sshPort, username: 'alice', authHandler: () => undefined, debug: (line) => debug.push(line), readyTimeout: 30_000 });
    await closed;
    const took = (Date.now() - began) / 1000;
    assert.ok(took >= GRACE_SECONDS - 0.5 && took < GRACE_SECONDS + 3, `cut after ${took} s`);
    assert.ok(debug.some((l) => l.includes(`Received DISCONNECT (11, "authentication took longer than ${GRACE_SECONDS} s")`)), debug.slice(-5).join('\n'));
    assert.ok(gateway.lines.some((l) => l.code === 'login_grace_expired' && l.versionSent === true));
  });

  it('refuses past ssh.maxStartups when many addresses flood it, keeps HTTP up and its descriptors bounded, and lets logins in again after the grace time', { timeout: 120_000 }, async () => {
    const pid = gateway.child.pid as number;
    const baseline = openFds(pid);
    held.length = 0;
    // 40 addresses × 5 = 200, each within its per-source cap: past 10 some are dropped at random, past 100 all.
    // Each address sends one of each: nothing, a version line cut short, garbage, a whole version line and no more.
    const kinds = ['', 'SSH-2.0-', '\x00\xff\r\n\r\n', 'SSH-2.0-Flood\r', 'SSH-2.0-OpenSSH_9.2\r\n'];
    const addresses = Array.from({ length: 40 }, (_, i) => `127.0.1.${i + 10}`);
    const results = await Promise.all(addresses.flatMap((a) => kinds.map((send) => hold(sshPort, a, 1, send))));
    held.push(...results.flat());
    await new Promise((resolve) => setTimeout(resolve, 500));
    const admitted = held.filter((h) => !h.closed).length;
    assert.ok(admitted >= 10 && admitted <= 100, `between start (10) and full (100) admitted, got ${admitted}`);
    assert.ok(openFds(pid) <= baseline + 100 + PER_SOURCE, `descriptors bounded by ssh.maxStartups: ${openFds(pid)} open, ${baseline} before`);
    assert.equal(await healthy(), 200);
    assert.ok(gateway.lines.some((l) => l.code === 'max_startups_early_drop' || l.code === 'max_startups_full' || (l.code === 'ssh_startups_dropped' && typeof l.byReason === 'object')));

    await until(() => held.every((h) => h.closed), 'every idle connection to be cut after ssh.loginGraceSeconds', (GRACE_SECONDS + 5) * 1000);
    assert.ok(openFds(pid) <= baseline + 2, `descriptors back to where they were: ${openFds(pid)} open, ${baseline} before`);
    const result = await login();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'in as alice\n');
    assert.equal(await healthy(), 200);
  });
});

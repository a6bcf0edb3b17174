import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, mkdir, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { LocalRuntime } from '../../src/runtime/local/localRuntime.js';
import { bwrapArgs, READY_SCRIPT, rlimitArgs } from '../../src/runtime/local/sandbox/bwrap.js';
import { chooseSandbox, probeBwrap } from '../../src/runtime/local/sandbox/choose.js';
import { revealsFor, sandboxLayout } from '../../src/runtime/local/sandbox/layout.js';
import { berthSpecFor } from '../../src/runtime/spec.js';
import type { BerthSpec } from '../../src/runtime/types.js';
import { eventually, run, within } from '../conformance/runtime.js';
import { processAlive } from '../helpers/processAlive.js';

/** A TCP server on PORT (or $1) and `host` that greets each connection with the berth's user, then closes. */
function greeter(host = '127.0.0.1'): string[] {
  return [
    process.execPath,
    '-e',
    `require('node:net').createServer((s) => s.end('hello ' + process.env.BERTH_USER)).listen(Number(process.argv[1] || process.env.PORT), ${JSON.stringify(host)})`,
  ];
}

/** argv that exits 0 when a TCP connection to 127.0.0.1:port opens within a second. */
function connectCommand(port: number): string[] {
  return [process.execPath, '-e', `require('node:net').connect(${port}, '127.0.0.1').on('connect', () => process.exit(0)).on('error', () => process.exit(1)); setTimeout(() => process.exit(2), 1000)`];
}

function specFor(user: string, command: string[] | null, environment: ConfigInput['environment'] = {}): BerthSpec {
  return berthSpecFor(configSchema.parse({ environment: { ...environment, command } }), user);
}

async function read(socket: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of socket) text += String(chunk);
  return text;
}

describe('local sandbox: choosing it', () => {
  const logged: string[] = [];
  const logger = createLogger('warn', { write: (line: string) => logged.push(line) && true } as unknown as NodeJS.WritableStream);
  const config = (auth: 'dev' | 'header', local: ConfigInput['runtime'] extends infer R ? R extends { local?: infer L } ? L : never : never) =>
    configSchema.parse({ auth: { mode: auth, ...(auth === 'header' ? { header: { trustedProxies: ['127.0.0.1/32'] } } : {}) }, runtime: { local } });
  const missing = () => 'bwrap is not installed';
  const works = () => null;

  it('uses bubblewrap when it works, on auto and on bwrap', () => {
    assert.equal(chooseSandbox(config('header', {}), logger, works), 'bwrap');
    assert.equal(chooseSandbox(config('header', { sandbox: 'bwrap' }), logger, works), 'bwrap');
  });

  it('runs unsandboxed with dev sign-in when bubblewrap is missing, and warns how to install it', () => {
    logged.length = 0;
    assert.equal(chooseSandbox(config('dev', {}), logger, missing), 'off');
    assert.match(logged.join(''), /without a sandbox: bwrap is not installed.*install bubblewrap/);
  });

  it('refuses to start unsandboxed with real sign-in, saying what a berth could do and how to install bubblewrap', () => {
    for (const local of [{}, { sandbox: 'off' as const }]) {
      assert.throws(() => chooseSandbox(config('header', local), logger, missing), (err: Error & { code?: string; userMessage?: string }) => {
        assert.equal(err.code, 'config_invalid');
        assert.match(err.userMessage ?? '', /read the gateway's data directory.*session key.*every other user's home.*other berth's ports/);
        assert.match(err.userMessage ?? '', /apt-get install bubblewrap/);
        assert.match(err.userMessage ?? '', /runtime\.local\.allowUnsandboxed: true/);
        return true;
      });
    }
  });

  it('runs unsandboxed with real sign-in when the operator allows it, and never probes for sandbox: off', () => {
    assert.equal(chooseSandbox(config('header', { allowUnsandboxed: true }), logger, missing), 'off');
    const probeless = () => assert.fail('sandbox: off must not probe');
    assert.equal(chooseSandbox(config('dev', { sandbox: 'off' }), logger, probeless), 'off');
  });

  it('refuses sandbox: bwrap where bubblewrap does not work, whatever the sign-in', () => {
    assert.throws(() => chooseSandbox(config('dev', { sandbox: 'bwrap' }), logger, missing), /runtime\.local\.sandbox is "bwrap" but bwrap is not installed: install bubblewrap/);
  });

  it('finds bubblewrap working on this machine (.ci/run installs it)', () => {
    assert.equal(probeBwrap(), null);
  });
});

describe('local sandbox: layout and arguments', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await realpath(await mkdtemp(join(tmpdir(), 'berth-layout-')));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it('masks dataDir, /run, the gateway install directory and its config files, and nothing of the system', async () => {
    const config = join(dataDir, '..', `berth-layout-config-${process.pid}.yaml`);
    await writeFile(config, 'log: info\n');
    try {
      const layout = sandboxLayout({ dataDir, gatewayFiles: [config, '/nonexistent/secret', '/etc', '/'] });
      const masked = layout.masks.map((m) => `${m.kind}:${m.path}`);
      assert.ok(masked.includes(`dir:${dataDir}`));
      assert.ok(masked.includes('dir:/run'));
      assert.ok(masked.includes(`file:${await realpath(config)}`));
      assert.ok(masked.includes(`dir:${await realpath(process.cwd())}`), 'the checkout the tests run from is the install directory');
      for (const system of ['dir:/', 'dir:/etc', 'dir:/usr']) assert.ok(!masked.includes(system), `${system} masked`);
      assert.equal(new Set(layout.masks.map((m) => m.path)).size, layout.masks.length, '/run and /var/run are one mask');
    } finally {
      await rm(config, { force: true });
    }
  });

  it("shows a command's own files again, read-only, with their package manifest and dependencies, but nothing of dataDir", async () => {
    const demo = join(process.cwd(), 'src', 'demo', 'app.ts');
    const layout = sandboxLayout({ dataDir, gatewayFiles: [] });
    const root = await realpath(process.cwd());
    assert.deepEqual(revealsFor(layout, [process.execPath, demo]), [join(root, 'node_modules'), join(root, 'package.json'), join(root, 'src', 'demo')]);
    assert.deepEqual(revealsFor(layout, ['sh', '-c', 'true']), []);
    assert.deepEqual(revealsFor(layout, [join(dataDir, 'session.key'), `file://${dataDir}/`]), [], 'dataDir stays hidden whatever the command names');
  });

  it('puts the home after the masks, so it stays visible inside a masked dataDir', () => {
    const spec = specFor('alice', ['true']);
    const home = join(dataDir, 'homes', spec.name);
    const layout = { masks: [{ path: dataDir, kind: 'dir' as const }, { path: '/srv/berth.yaml', kind: 'file' as const }], reveals: ['/opt/node'], dataDir, installDir: null };
    const args = bwrapArgs(layout, spec, home, ['true']);
    const at = (...seq: string[]) => args.findIndex((_, i) => seq.every((s, j) => args[i + j] === s));
    assert.ok(at('--ro-bind', '/', '/') < at('--tmpfs', dataDir));
    assert.ok(at('--tmpfs', dataDir) < at('--ro-bind', '/opt/node', '/opt/node'));
    assert.ok(at('--ro-bind', '/dev/null', '/srv/berth.yaml') > 0);
    assert.ok(at('--ro-bind', '/opt/node', '/opt/node') < at('--bind', home, home));
    assert.deepEqual(args.slice(-5), ['--', 'sh', '-c', READY_SCRIPT, 'berth-sandbox'], 'the command comes last, after the readiness step');
    for (const flag of ['--unshare-all', '--unshare-user', '--die-with-parent', '--new-session']) assert.ok(args.includes(flag), flag);
    assert.ok(at('--cap-drop', 'ALL') >= 0);
  });

  it('turns environment.limits into rlimits, and none into no wrapper', () => {
    assert.deepEqual(rlimitArgs({ memory: '512m', cpus: 1, pids: 64 }), ['prlimit', `--data=${512 * 1024 * 1024}`, '--nproc=64', '--']);
    assert.deepEqual(rlimitArgs({ memory: null, cpus: 2, pids: null }), []);
  });
});

describe('local sandbox: a berth in it', () => {
  let dataDir: string;
  let runtime: LocalRuntime;
  let outside: ReturnType<typeof createServer>;
  let outsidePort: number;
  before(async () => {
    dataDir = await realpath(await mkdtemp(join(tmpdir(), 'berth-sandbox-')));
    await writeFile(join(dataDir, 'session.key'), 'not for berths');
    runtime = new LocalRuntime({
      dataDir,
      logger: createLogger('silent'),
      defaultCommand: greeter(),
      stopGraceSeconds: 2,
      sandbox: sandboxLayout({ dataDir, gatewayFiles: [] }),
    });
    // Something of the gateway's on the host's loopback.
    outside = createServer((s) => s.end('host'));
    await new Promise<void>((resolve) => outside.listen(0, '127.0.0.1', resolve));
    outsidePort = (outside.address() as AddressInfo).port;
  });
  after(async () => {
    await runtime?.close();
    outside?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const sh = (name: string, script: string) => run(runtime, name, ['sh', '-c', script]);

  it("cannot read dataDir, list another home, signal the gateway, or reach another berth's or the host's ports", { timeout: 20_000 }, async () => {
    const alice = specFor('sbx-alice', null);
    const bob = specFor('sbx-bob', null);
    await Promise.all([runtime.ensure(alice, () => undefined), runtime.ensure(bob, () => undefined)]);
    const bobPort = await runtime.mainPort(bob.name);
    await mkdir(join(dataDir, 'homes', bob.name, 'private'), { recursive: true });
    assert.notEqual((await sh(alice.name, `cat ${join(dataDir, 'session.key')}`)).code, 0, 'read dataDir/session.key');
    assert.equal((await sh(alice.name, `ls ${dataDir}`)).stdout, 'homes\n', 'dataDir shows only the mount point of the home');
    assert.notEqual((await sh(alice.name, `ls ${join(dataDir, 'homes', bob.name)}`)).code, 0, "listed bob's home");
    assert.equal((await sh(alice.name, `ls ${join(dataDir, 'homes')}`)).stdout, `${alice.name}\n`);
    assert.notEqual((await sh(alice.name, `kill -0 ${process.pid}`)).code, 0, "signalled the gateway's PID");
    assert.ok(processAlive(process.pid));
    await eventually(async () => (await runtime.listening(bob.name)).some((l) => l.port === bobPort), "bob's server to listen");
    assert.notEqual((await run(runtime, alice.name, connectCommand(bobPort))).code, 0, "reached bob's port");
    assert.notEqual((await run(runtime, alice.name, connectCommand(outsidePort))).code, 0, "reached the host's loopback");
    assert.equal((await run(runtime, bob.name, connectCommand(bobPort))).code, 0, 'bob reaches his own port: the probe works');
    assert.equal((await sh(alice.name, 'ls -A /run')).stdout, '', '/run (the Docker socket, say) is masked');
    await Promise.all([runtime.stop(alice.name, { remove: true, graceSeconds: 1 }), runtime.stop(bob.name, { remove: true, graceSeconds: 1 })]);
  });

  it('lets nothing in while the sandbox is being set up: an exec racing the start is refused or sees the masks', { timeout: 30_000 }, async () => {
    for (let i = 0; i < 10; i++) {
      const spec = specFor(`sbx-race-${i}`, null);
      const starting = runtime.ensure(spec, () => undefined);
      await new Promise((resolve) => setImmediate(resolve));
      const early = await sh(spec.name, `cat ${join(dataDir, 'session.key')}`).then(
        (result) => result.code,
        (err: { code?: string }) => err.code,
      );
      assert.ok(early === 'berth_not_ready' || (typeof early === 'number' && early !== 0), `try ${i}: ${String(early)}`);
      await starting;
      await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
    }
  });

  it('writes its own home at its usual path, has a private /tmp, no capabilities and no new privileges', { timeout: 20_000 }, async () => {
    const spec = specFor('sbx-home', null);
    await runtime.ensure(spec, () => undefined);
    const home = join(dataDir, 'homes', spec.name);
    // pid 2: the berth's main command, under the sandbox's init.
    const privileges = (pid: string) => `grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/${pid}/status`;
    // Private /tmp: a file the host has there is not seen, one the berth writes there stays inside.
    const marker = `berth-host-only-${process.pid}`;
    await writeFile(join('/tmp', marker), 'host');
    const inside = `berth-inside-only-${process.pid}`;
    const result = await sh(spec.name, `echo "$HOME $(pwd)"; echo kept > "$HOME/file"; test -e /tmp/${marker} && echo sees the host /tmp; echo berth > /tmp/${inside}; ${privileges('self')}; ${privileges('2')}`);
    await rm(join('/tmp', marker));
    assert.equal(result.code, 0, result.stderr);
    const none = 'CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nNoNewPrivs:\t1\n';
    assert.equal(result.stdout, `${home} ${home}\n${none}${none}`, 'an exec and the main command have no capability');
    assert.equal(spawnSync('test', ['-e', join('/tmp', inside)]).status, 1, "the berth's /tmp file stayed in the berth");
    await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
  });

  it('applies environment.limits as rlimits to the berth and its execs', { timeout: 20_000 }, async () => {
    const limits = `grep -E "^Max (data size|processes)" /proc/self/limits | tr -s ' ' | cut -d' ' -f1-5 | tr '\\n' ,`;
    const spec = specFor('sbx-limits', ['sh', '-c', `echo "main=$(${limits})"; exec sleep 100`], { limits: { memory: '256m', pids: 40 } });
    await runtime.ensure(spec, () => undefined);
    const expected = `Max data size ${256 * 1024 * 1024} ${256 * 1024 * 1024},Max processes 40 40 processes,`;
    const line = await eventually(async () => (await runtime.logs(spec.name, 10)).find((l) => l.startsWith('main=')), 'the limits line');
    assert.equal(line, `main=${expected}`);
    assert.equal((await sh(spec.name, limits)).stdout, expected);
    await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
  });

  it('ends everything it started when it stops, even a daemon that left its session', { timeout: 20_000 }, async () => {
    const spec = specFor('sbx-daemon', ['sh', '-c', 'exec sleep 100']);
    await runtime.ensure(spec, () => undefined);
    const started = await sh(spec.name, 'setsid sh -c "trap \\"\\" TERM; exec sleep 1000" </dev/null >/dev/null 2>&1 & echo started');
    assert.equal(started.stdout, 'started\n');
    const pid = await eventually(async () => {
      const { stdout } = await import('node:child_process').then(({ execFileSync }) => ({ stdout: execFileSync('pgrep', ['-f', '^sleep 1000$'], { encoding: 'utf8' }).trim() })).catch(() => ({ stdout: '' }));
      return stdout === '' ? undefined : Number(stdout.split('\n')[0]);
    }, 'the daemon on the host');
    await within(runtime.stop(spec.name, { remove: true, graceSeconds: 1 }), 5000, 'stop');
    await eventually(async () => !processAlive(pid), `daemon ${pid} to be gone`);
  });

  it('hands the gateway connections to ports inside, on 127.0.0.1 or ::1, and a greeting sent at once is not lost', { timeout: 20_000 }, async () => {
    const spec = specFor('sbx-relay', ['sh', '-c', `${greeter('::1').map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')} 4000 & exec ${greeter().map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')}`]);
    await runtime.ensure(spec, () => undefined);
    const main = await runtime.mainPort(spec.name);
    await eventually(async () => {
      const ports = (await runtime.listening(spec.name)).map((l) => l.port);
      return ports.includes(main) && ports.includes(4000);
    }, 'both listeners');
    for (const port of [main, 4000]) {
      const socket = await runtime.connect(spec.name, port);
      assert.equal(await read(socket), `hello ${spec.user}`);
    }
    await assert.rejects(runtime.connect(spec.name, 4001), { code: 'upstream_failed' });
    await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
  });
});

describe('local sandbox: an unprivileged gateway', () => {
  const root = process.getuid?.() === 0;
  // As root, the test drops to nobody; run as anyone else, every test of this file already is unprivileged.
  it('makes, enters and connects into a sandbox without root', { skip: root ? false : 'the tests already run unprivileged', timeout: 60_000 }, () => {
    const result = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', join('test', 'runtime', 'fixtures', 'unprivilegedSandbox.ts')],
      { encoding: 'utf8', timeout: 50_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() } },
    );
    assert.equal(result.status, 0, result.stderr);
    const seen = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    assert.equal(seen.uid, 65534);
    assert.equal(seen.probe, null, 'bubblewrap works unprivileged');
    assert.deepEqual(seen.exec, { stdout: `${seen.home as string}\nCapEff:\t0000000000000000\n`, stderr: '', code: 0, signal: null });
    assert.equal(seen.listed, true);
    assert.equal(seen.greeting, 'hi alice', 'the relay hands over a connection inside the sandbox');
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { prepareHome } from '../../src/runtime/local/home.js';
import { LocalRuntime } from '../../src/runtime/local/localRuntime.js';
import { LogRing } from '../../src/runtime/local/logRing.js';
import { sandboxLayout } from '../../src/runtime/local/sandbox/layout.js';
import { berthSpecFor } from '../../src/runtime/spec.js';
import type { BerthExit, BerthSpec } from '../../src/runtime/types.js';
import { accepts, describeRuntimeConformance, eventually, within, type IsolationProbe } from '../conformance/runtime.js';
import { processAlive } from '../helpers/processAlive.js';

/** The host has no busybox httpd; node is always there. */
const serverCommand = [
  process.execPath,
  '-e',
  "require('node:net').createServer((s) => s.end()).listen(Number(process.env.PORT), '127.0.0.1')",
];

const loopbackServerCommand = [
  process.execPath,
  '-e',
  "require('node:http').createServer((q, s) => s.end('loopback\\n')).listen(Number(process.env.PORT), '127.0.0.1')",
];

function specFor(user: string, command: string[] | null, environment: ConfigInput['environment'] = {}): BerthSpec {
  return berthSpecFor(configSchema.parse({ environment: { ...environment, command } }), user);
}

/**
 * Sandboxed (bubblewrap, as runtime.local.sandbox picks it where it works)
 * or not; the suites below run on both.
 */
async function localSubject(stopGraceSeconds = 2, sandboxed = false) {
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-local-'));
  const sandbox = sandboxed ? sandboxLayout({ dataDir, gatewayFiles: [] }) : null;
  const runtime = new LocalRuntime({ dataDir, logger: createLogger('silent'), defaultCommand: serverCommand, stopGraceSeconds, sandbox });
  const isolatesBerths: IsolationProbe | { skip: string } = sandboxed
    ? {
        // Inside its own network namespace a berth's loopback is its own; another's port is on nobody's.
        addressesOf: async () => ['127.0.0.1', 'localhost'],
        connectCommand: (host, port) => [
          process.execPath,
          '-e',
          `require('node:net').connect(${port}, ${JSON.stringify(host)}).on('connect', () => process.exit(0)).on('error', () => process.exit(1)); setTimeout(() => process.exit(2), 1000)`,
        ],
      }
    : { skip: "unsandboxed local berths share the host's network, so nothing keeps one from another's ports" };
  return {
    runtime,
    dataDir,
    specFor,
    serverCommand,
    isolatesBerths,
    loopbackServerCommand,
    cleanup: async () => {
      await runtime.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

describeRuntimeConformance('local', () => localSubject());
describeRuntimeConformance('local, sandboxed', () => localSubject(2, true));

/** The value of `key=` in the first log line that has it. */
async function logged(runtime: LocalRuntime, name: string, key: string): Promise<string> {
  const prefix = `${key}=`;
  const line = await eventually(async () => (await runtime.logs(name, 50)).find((l) => l.startsWith(prefix)), `${prefix} in the logs`);
  return line.slice(prefix.length);
}

describe('local runtime', () => {
  let subject: Awaited<ReturnType<typeof localSubject>>;
  let runtime: LocalRuntime;
  const exits: BerthExit[] = [];
  before(async () => {
    subject = await localSubject(0.5);
    runtime = subject.runtime;
    runtime.onExit((exit) => exits.push(exit));
  });
  after(() => subject?.cleanup());

  it('runs the default command when the environment names none', { timeout: 10_000 }, async () => {
    const spec = specFor('default-command', null);
    await runtime.ensure(spec, () => undefined);
    const port = await runtime.mainPort(spec.name);
    await eventually(() => accepts(() => runtime.connect(spec.name, port)), 'the default command to listen on PORT');
    await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
  });

  it('kills the whole process group on stop, even a child that ignores SIGTERM', { timeout: 10_000 }, async () => {
    const spec = specFor('group-stop', ['sh', '-c', `(trap '' TERM; exec sleep 1000) & echo "child=$!"; wait`]);
    await runtime.ensure(spec, () => undefined);
    const child = Number(await logged(runtime, spec.name, 'child'));
    assert.ok(processAlive(child));
    await within(runtime.stop(spec.name, { remove: false, graceSeconds: 5 }), 3000, 'stop without waiting out the grace');
    await eventually(async () => !processAlive(child), `child ${child} to be gone`);
  });

  it('kills what a berth leaves behind when it exits by itself', { timeout: 10_000 }, async () => {
    const spec = specFor('group-exit', ['sh', '-c', 'sleep 1000 & echo "child=$!"; exit 0']);
    await runtime.ensure(spec, () => undefined);
    const child = Number(await logged(runtime, spec.name, 'child'));
    const exit = await eventually(async () => exits.find((e) => e.name === spec.name), 'the exit');
    assert.equal(exit.exitCode, 0);
    await eventually(async () => !processAlive(child), `child ${child} to be gone`);
  });

  it('sends SIGKILL after the grace period when SIGTERM is ignored', { timeout: 10_000 }, async () => {
    const spec = specFor('ignores-term', ['sh', '-c', `trap '' TERM; echo "pid=$$"; exec sleep 100`]);
    await runtime.ensure(spec, () => undefined);
    const pid = Number(await logged(runtime, spec.name, 'pid'));
    const began = Date.now();
    await within(runtime.stop(spec.name, { remove: false, graceSeconds: 0.5 }), 5000, 'stop');
    const took = Date.now() - began;
    assert.ok(took >= 450 && took < 3000, `stop took ${took} ms`);
    assert.equal(processAlive(pid), false);
    const observed = await runtime.inspect(spec.name);
    assert.equal(observed.state, 'stopped');
    assert.equal(observed.exitCode, 128 + 9, 'a process killed by SIGKILL reports 137, as a container would');
  });

  it('keeps HOME private and inside dataDir/homes for adversarial usernames', { timeout: 10_000 }, async () => {
    const homes = join(await realpath(subject.dataDir), 'homes');
    for (const user of ['../etc', '..', '/etc/passwd', 'a/../../b', 'ünïcødé 名前', 'x'.repeat(300)]) {
      const spec = specFor(user, ['sh', '-c', 'echo "home=$HOME"; echo "pwd=$(pwd -P)"; exec sleep 100']);
      await runtime.ensure(spec, () => undefined);
      const home = await logged(runtime, spec.name, 'home');
      assert.equal(dirname(await realpath(home)), homes, `HOME of ${JSON.stringify(user)} is ${home}`);
      assert.equal(await logged(runtime, spec.name, 'pwd'), await realpath(home), 'the berth starts in its home');
      assert.equal((await stat(home)).mode & 0o777, 0o700);
      await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
    }
  });

  it('refuses a home that would resolve outside dataDir/homes', async () => {
    for (const name of ['', '.', '..', '../etc', 'a/b', '/etc']) {
      await assert.rejects(prepareHome(subject.dataDir, name), { code: 'spawn_failed' }, JSON.stringify(name));
    }
  });

  it("passes the environment's variables but not the gateway's own", { timeout: 10_000 }, async () => {
    process.env.BERTH_TEST_GATEWAY_SECRET = 'must-not-leak';
    try {
      const spec = specFor('env-isolation', ['sh', '-c', 'echo "seen=${BERTH_TEST_GATEWAY_SECRET:-none}:$GREETING"; exec sleep 100'], {
        env: { GREETING: 'hello' },
      });
      await runtime.ensure(spec, () => undefined);
      assert.equal(await logged(runtime, spec.name, 'seen'), 'none:hello');
      await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
    } finally {
      delete process.env.BERTH_TEST_GATEWAY_SECRET;
    }
  });

  it('fails to start a command that does not exist, with the reason in its logs', { timeout: 10_000 }, async () => {
    const spec = specFor('no-such-command', ['/nonexistent/berth-command']);
    await assert.rejects(runtime.ensure(spec, () => undefined), { code: 'spawn_failed' });
    const observed = await runtime.inspect(spec.name);
    assert.equal(observed.state, 'exited');
    assert.match((await runtime.logs(spec.name, 5)).join('\n'), /ENOENT/);
    assert.ok(!exits.some((e) => e.name === spec.name), 'a failed start is reported by ensure, not as an exit');
  });

  it('refuses to start berths once closed', { timeout: 10_000 }, async () => {
    const closing = await localSubject();
    await closing.cleanup();
    await assert.rejects(closing.runtime.ensure(specFor('after-close', null), () => undefined), { code: 'shutting_down' });
  });
});

describe('log ring', () => {
  it('keeps the last lines within its line budget', () => {
    const ring = new LogRing(3, 1024);
    ring.write('one\ntwo\r\nthree\nfour\nfi');
    ring.write('ve');
    assert.deepEqual(ring.tail(10), ['three', 'four', 'five']);
    assert.deepEqual(ring.tail(1), ['five']);
    assert.deepEqual(ring.tail(0), []);
  });

  it('keeps within its byte budget, and keeps the end of an overlong line', () => {
    const ring = new LogRing(100, 64);
    ring.write(`${'a'.repeat(10)}\n${'b'.repeat(10)}\n`);
    ring.write(`${'x'.repeat(1000)}y\n`);
    const tail = ring.tail(100);
    assert.ok(Buffer.byteLength(tail.join('')) <= 64 + 3);
    assert.ok(tail.at(-1)?.endsWith('xy'));
    assert.ok(tail.at(-1)?.startsWith('…'));
  });
});

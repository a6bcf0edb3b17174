import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/runtime/kubernetes/kubeConfig.js';
import { podName } from '../../src/runtime/kubernetes/names.js';
import { background, closeSetup, gatewayForAlice, run, sshArgs, until, type AliceSetup } from './harness.js';
import { forEachRuntime, type SshRuntime } from './runtimes.js';

/**
 * Guards the failure where a berth that died under an open session (its
 * container killed, its main process crashed, out of memory) ended the
 * session with whatever the dying process left, often no word at all: the
 * session must end with a line on stderr saying how the berth died and with
 * exit status 255, as the README says.
 */
const DIED = 255;

/**
 * Kills the berth's main process (local) or container (docker, podman) with
 * `signal`, as a crash or an operator would, with the engine's own CLI; a pod
 * is deleted through the API, as an operator's kubectl (or an eviction) does.
 */
async function killBerth(setup: AliceSetup, runtime: SshRuntime, signal: 'KILL' | 'SEGV'): Promise<void> {
  const id = setup.gateway.parts.spawner.status('alice').runtimeId;
  assert.ok(id, 'the berth has a runtime id');
  if (runtime.kind === 'kubernetes') {
    // The API call `kubectl delete pod --grace-period=1` makes.
    const settings = setup.gateway.config.runtime.kubernetes;
    const core = loadKubeConfig(settings).kc.makeApiClient(CoreV1Api);
    await core.deleteNamespacedPod({ name: podName(settings.namePrefix, 'alice'), namespace: settings.namespace, gracePeriodSeconds: 1 });
    return;
  }
  if (runtime.engine === null) {
    process.kill(Number(id), `SIG${signal}`);
    return;
  }
  const [cli, ...args] = runtime.engine.cli;
  const killed = await run(cli as string, [...args, 'kill', '--signal', signal, id]);
  assert.equal(killed.code, 0, killed.stderr);
}

await forEachRuntime((runtime: SshRuntime) => {
  // What the session says of the berth killed under it: a pod deleted has no exit code to tell.
  const how = runtime.kind === 'kubernetes' ? 'it died: its pod was deleted' : 'it died: exit code 137, killed by SIGKILL';
  describe(`a berth that dies under an ssh session (${runtime.kind})`, () => {
    const setup = {} as AliceSetup;
    before(async () => {
      Object.assign(setup, await gatewayForAlice(undefined, runtime));
    });
    after(() => closeSetup(setup));

    const started = async (session: ReturnType<typeof background>) =>
      until(() => session.output().stdout.includes('started'), 'the session to start', 60_000);

    it('ends an exec session with a line saying it died, with the exit code and signal, and exit status 255', { timeout: 120_000 }, async () => {
      const session = background('ssh', sshArgs(setup.gateway, setup.key, 'alice', 'echo started; sleep 60'));
      await started(session);
      await killBerth(setup, runtime, 'KILL');
      const ended = await session.ended;
      assert.equal(ended.signal, null, 'ssh ended by itself');
      assert.equal(ended.code, DIED, ended.stderr);
      assert.match(ended.stderr, new RegExp(`\\nberth: your environment stopped \\(${how}\\); connect again to start it\\.\\n$`));
    });

    it('ends a shell on a terminal the same way, with the line on the terminal', { timeout: 120_000 }, async () => {
      const session = background('ssh', sshArgs(setup.gateway, setup.key, 'alice', undefined, ['-tt']));
      session.child.stdin.write('echo started; sleep 60\n');
      await started(session);
      await killBerth(setup, runtime, 'KILL');
      const ended = await session.ended;
      assert.equal(ended.code, DIED, ended.stdout + ended.stderr);
      assert.match(ended.stdout + ended.stderr, new RegExp(`berth: your environment stopped \\(${how}\\); connect again to start it\\.\\r\\n`));
    });

    if (runtime.kind === 'local') {
      // A namespace's PID 1 ignores a SEGV sent from outside, so the docker crash is the berth's own (below).
      it('says so when the berth crashed', { timeout: 120_000 }, async () => {
        const session = background('ssh', sshArgs(setup.gateway, setup.key, 'alice', 'echo started; sleep 60'));
        await started(session);
        await killBerth(setup, runtime, 'SEGV');
        const ended = await session.ended;
        assert.equal(ended.code, DIED, ended.stderr);
        assert.match(ended.stderr, /berth: your environment stopped \(it died: exit code 139, killed by SIGSEGV\); connect again to start it\.\n$/);
      });
    }

    it('a command the user kills in a berth that lives on ends as that command, with no line about the berth', { timeout: 120_000 }, async () => {
      const session = await run('ssh', sshArgs(setup.gateway, setup.key, 'alice', 'kill -KILL $$'), { timeoutMs: 60_000 });
      assert.ok(session.code === 137 || session.code === 255, `the command's own end, got ${session.code}: ${session.stderr}`);
      assert.doesNotMatch(session.stderr, /your environment stopped/);
      assert.equal(setup.gateway.parts.spawner.status('alice').state, 'ready');
    });
  });
});

/**
 * A berth whose main process fails on request: on SIGUSR1 it takes more
 * memory than its limit allows, so the kernel's OOM killer ends it; on
 * SIGUSR2 it reads address 0 and dies of SIGSEGV.
 */
const FRAGILE_SERVER = [
  'python3',
  '-c',
  [
    'import ctypes, http.server as h, os, signal',
    'def hog(*_):',
    '  blocks = []',
    '  while True: blocks.append(bytearray(16 * 1024 * 1024))',
    'signal.signal(signal.SIGUSR1, hog)',
    'signal.signal(signal.SIGUSR2, lambda *_: ctypes.string_at(0))',
    'h.HTTPServer(("", int(os.environ["PORT"])), h.BaseHTTPRequestHandler).serve_forever()',
  ].join('\n'),
];

await forEachRuntime((runtime: SshRuntime) => {
  if (runtime.kind !== 'docker' && runtime.kind !== 'kubernetes') return;
  /** The line the session ends with; a pod's end also carries Kubernetes' own reason. */
  const stopped = (how: string) => `\nberth: your environment stopped (it died: ${how}); connect again to start it.\n`;
  const outOfMemory = runtime.kind === 'kubernetes' ? 'exit code 137, killed by SIGKILL, out of memory (OOMKilled)' : 'exit code 137, killed by SIGKILL, out of memory';
  describe(`a berth that fails by itself under an ssh session (${runtime.kind})`, () => {
    const setup = {} as AliceSetup;
    before(async () => {
      Object.assign(
        setup,
        await gatewayForAlice((config) => {
          config.environment.command = FRAGILE_SERVER;
          config.environment.limits.memory = '64m';
          config.environment.readyPath = null;
        }, runtime),
      );
    });
    after(() => closeSetup(setup));

    it('says it ran out of memory', { timeout: 120_000 }, async () => {
      const ended = await run('ssh', sshArgs(setup.gateway, setup.key, 'alice', 'kill -USR1 1; sleep 60'), { timeoutMs: 60_000 });
      assert.equal(ended.code, DIED, ended.stderr);
      assert.ok(ended.stderr.endsWith(stopped(outOfMemory)), ended.stderr);
    });

    it('says it crashed, and the next session starts it again', { timeout: 120_000 }, async () => {
      const ended = await run('ssh', sshArgs(setup.gateway, setup.key, 'alice', 'kill -USR2 1; sleep 60'), { timeoutMs: 60_000 });
      assert.equal(ended.code, DIED, ended.stderr);
      assert.ok(ended.stderr.endsWith(stopped('exit code 139, killed by SIGSEGV')), ended.stderr);
      const again = await run('ssh', sshArgs(setup.gateway, setup.key, 'alice', 'echo back'), { timeoutMs: 60_000 });
      assert.equal(again.stdout, 'back\n', again.stderr);
    });
  });
});

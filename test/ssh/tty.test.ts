import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeSetup, gatewayForAlice, run, sshCommandLine, until, type ClientKey, type Gateway, type Scratch } from './harness.js';
import { forEachRuntime } from './runtimes.js';

/** A tmux server of its own, so the test neither sees nor disturbs anyone else's. */
function tmux(socket: string, ...args: string[]) {
  return run('tmux', ['-L', socket, '-f', '/dev/null', ...args], { timeoutMs: 10_000 });
}

await forEachRuntime((runtime) => {
  describe(`ssh -tt through a real terminal (tmux) (${runtime.kind})`, () => {
    let gateway: Gateway;
    let scratch: Scratch;
    let key: ClientKey;
    const socket = `berth-test-${process.pid}-${runtime.kind}`;

    before(async () => {
      ({ gateway, scratch, key } = await gatewayForAlice(undefined, runtime));
    });
    after(async () => {
      await tmux(socket, 'kill-server');
      await closeSetup({ gateway, scratch });
    });

    it('sees the window size and its changes, and Ctrl-C interrupts a command', async () => {
      const screen = async () => (await tmux(socket, 'capture-pane', '-p', '-t', 'ssh')).stdout;
      const waitFor = (pattern: RegExp, what: string) => until(async () => pattern.test(await screen()), what);
      const type = (text: string) => tmux(socket, 'send-keys', '-t', 'ssh', text, 'Enter');

      const ssh = sshCommandLine(gateway, key, 'alice', undefined, ['-tt']);
      // The sleep keeps the pane (and what ssh printed) readable should ssh end early.
      const started = await tmux(socket, 'new-session', '-d', '-s', 'ssh', '-x', '100', '-y', '30', `${ssh}; sleep 30`);
      assert.equal(started.code, 0, started.stderr);
      await waitFor(/ready in/, 'the berth to start');

      await type('stty size');
      await waitFor(/^30 100$/m, 'the first size');
      await tmux(socket, 'resize-window', '-t', 'ssh', '-x', '120', '-y', '40');
      await type('stty size');
      await waitFor(/^40 120$/m, 'the new size after a resize');

      // A duration of its own, so pgrep (which sees the berth's processes on either runtime) finds this sleep only.
      const nap = `100.${Date.now() % 1_000_000}`;
      await type(`sleep ${nap}; echo "slept=$?"`);
      await until(async () => (await run('pgrep', ['-f', `^sleep ${nap.replace('.', '\\.')}$`])).code === 0, 'sleep to run');
      await tmux(socket, 'send-keys', '-t', 'ssh', 'C-c');
      await type('echo "after=$?"');
      await waitFor(/^after=130\s*$/m, 'the shell to report the interrupt (130)');
      assert.doesNotMatch(await screen(), /slept=0/);
      await type('exit');
    });
  });
});

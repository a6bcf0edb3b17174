import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ExecOptions } from '../../src/runtime/types.js';
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

    /** ssh -tt in a detached tmux window of 100x30 named `name`; the sleep keeps the pane (and what ssh printed) readable should ssh end early. */
    async function terminal(name: string) {
      const ssh = sshCommandLine(gateway, key, 'alice', undefined, ['-tt']);
      const started = await tmux(socket, 'new-session', '-d', '-s', name, '-x', '100', '-y', '30', `${ssh}; sleep 30`);
      assert.equal(started.code, 0, started.stderr);
      const screen = async () => (await tmux(socket, 'capture-pane', '-p', '-t', name)).stdout;
      return {
        screen,
        waitFor: (pattern: RegExp, what: string) => until(async () => pattern.test(await screen()), what),
        type: (text: string) => tmux(socket, 'send-keys', '-t', name, text, 'Enter'),
        resize: (cols: number, rows: number) => tmux(socket, 'resize-window', '-t', name, '-x', String(cols), '-y', String(rows)),
      };
    }

    it('sees the window size and its changes, and Ctrl-C interrupts a command', async () => {
      const { screen, waitFor, type, resize } = await terminal('ssh');
      await waitFor(/ready in/, 'the berth to start');

      await type('stty size');
      await waitFor(/^30 100$/m, 'the first size');
      await resize(120, 40);
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

    /*
     * A window-change that came while the shell was being started found no
     * process to resize and was lost: the shell kept the pty request's size
     * for good. The start is held here until the gateway has the change.
     */
    it('keeps a window resized while its shell is starting', async () => {
      const { spawner } = gateway.parts;
      const exec = spawner.exec.bind(spawner);
      const asked: ExecOptions[] = [];
      let started = false;
      let release = () => undefined as void;
      const held = new Promise<void>((resolve) => (release = resolve));
      spawner.exec = async (user, options) => {
        asked.push(options);
        await held;
        const proc = await exec(user, options);
        started = true;
        return proc;
      };
      try {
        const { waitFor, type, resize } = await terminal('starting');
        await until(() => asked.length > 0, 'the shell to be asked for');
        await resize(120, 40);
        await until(() => gateway.logs.some((r) => r.msg === 'ssh window size changed' && r.rows === 40 && r.cols === 120), 'the window-change to reach the gateway');
        release();
        await until(() => started, 'the shell to start');
        await type('stty size');
        await waitFor(/^40 120$/m, 'the size the window has had since the shell was asked for');
        assert.deepEqual(asked[0]?.tty && [asked[0].tty.rows, asked[0].tty.cols], [30, 100], 'the shell was asked for at the first size');
        await type('exit');
      } finally {
        release();
        spawner.exec = exec;
      }
    });
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startExec } from '../../src/runtime/local/exec.js';
import { closeSetup, gatewayForAlice, run, sshArgs, type AliceSetup } from './harness.js';

/*
 * ssh -tt with heavy output into a local berth lost its last lines now and
 * then (more often on a loaded machine): libuv took the terminal's hang-up
 * after a short read for the end of its output while the kernel still held
 * some, and node-pty dropped what it had not read 200 ms after the process
 * ended, which a reader slower than that (backpressure pauses the terminal)
 * always hit. Each run here must deliver every line; the loops are bounded.
 */

const LINES = 200_000;
const RUNS = 10;

/** The lines of seq's output as a terminal gives them (CR LF), each checked to be the next number. */
function assertEveryLine(output: string, lines: number, what: string): void {
  const numbers = output.split('\r\n').filter((line) => line !== '');
  assert.equal(numbers.at(-1), String(lines), `${what}: the last line (of ${numbers.length})`);
  assert.equal(numbers.length, lines, what);
  assert.ok(
    numbers.every((line, i) => line === String(i + 1)),
    `${what}: every line, in order`,
  );
}

describe('ssh -tt loses the last lines of heavy output (local runtime)', () => {
  let setup: AliceSetup;
  before(async () => {
    setup = await gatewayForAlice();
  });
  after(() => closeSetup(setup));

  it(`delivers every line of seq 1 ${LINES} through ssh -tt, ${RUNS} times over`, { timeout: 120_000 }, async () => {
    for (let i = 1; i <= RUNS; i++) {
      const result = await run('ssh', sshArgs(setup.gateway, setup.key, 'alice', `seq 1 ${LINES}`, ['-tt']));
      assert.equal(result.code, 0, result.stderr);
      assertEveryLine(result.stdout, LINES, `run ${i}`);
    }
  });

  it('delivers every line to a reader slower than the terminal, whose output waits while the process ends', { timeout: 120_000 }, async () => {
    const lines = 50_000;
    for (let i = 1; i <= 5; i++) {
      const { process: exec } = await startExec(
        { cwd: '/tmp', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
        { command: ['seq', '1', String(lines)], env: {}, tty: { term: 'xterm', rows: 24, cols: 80 } },
      );
      let output = '';
      exec.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString('latin1');
        // Taken a chunk at a time, as a loaded SSH client would: the terminal is paused in between.
        exec.stdout.pause();
        setTimeout(() => exec.stdout.resume(), 5);
      });
      const [exit] = await Promise.all([exec.exited, new Promise((resolve) => exec.stdout.once('end', resolve))]);
      assert.deepEqual(exit, { code: 0, signal: null });
      assertEveryLine(output, lines, `slow run ${i}`);
    }
  });
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { SET_SIZE_LINE, SIZED, sizedOutput } from '../../src/runtime/terminalSize.js';

/* What Docker's old engines and Kubernetes' exec run a tty command behind; test/conformance/runtime.ts checks it against each. */

describe('the tty size wrapper output', () => {
  /** What comes out of sizedOutput for `chunks`, and whether `sized` had settled when the last went in. */
  async function through(chunks: string[], end = true): Promise<{ output: string; settled: boolean }> {
    const { output, sized } = sizedOutput();
    let text = '';
    output.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    let settled = false;
    void sized.then(() => (settled = true));
    for (const chunk of chunks) output.write(Buffer.from(chunk, 'latin1'));
    if (end) output.end();
    await new Promise((resolve) => setImmediate(resolve));
    return { output: text, settled };
  }

  it('is what the wrapper line prints, in sh (dash) as in bash', () => {
    for (const shell of ['sh', 'bash']) {
      // No tty here, so stty fails, quietly, as the line asks.
      const printed = execFileSync(shell, ['-c', SET_SIZE_LINE, 'berth-tty', '24', '80'], { stdio: ['ignore', 'pipe', 'pipe'] });
      assert.equal(printed.toString('latin1'), SIZED, shell);
    }
  });

  it('takes SIZED off the start, whole or split across chunks, and settles once it has passed', async () => {
    assert.deepEqual(await through([`${SIZED}$ `], false), { output: '$ ', settled: true });
    assert.deepEqual(await through([SIZED.slice(0, 3), SIZED.slice(3, 9), `${SIZED.slice(9)}hello`], false), { output: 'hello', settled: true });
    assert.deepEqual(await through([SIZED, 'a', SIZED], false), { output: `a${SIZED}`, settled: true });
  });

  it('waits while the start could still be SIZED, and passes all of it on once it cannot', async () => {
    assert.deepEqual(await through([SIZED.slice(0, 4)], false), { output: '', settled: false });
    assert.deepEqual(await through([SIZED.slice(0, 4), 'sh: stty: not found'], false), { output: `${SIZED.slice(0, 4)}sh: stty: not found`, settled: true });
    assert.deepEqual(await through(['/bin/sh: not found'], false), { output: '/bin/sh: not found', settled: true });
  });

  it('settles and keeps what it held when the output ends or breaks off before SIZED', async () => {
    assert.deepEqual(await through([SIZED.slice(0, 5)]), { output: SIZED.slice(0, 5), settled: true });
    assert.deepEqual(await through([]), { output: '', settled: true });
    const { output, sized } = sizedOutput();
    output.write(Buffer.from(SIZED.slice(0, 2), 'latin1'));
    output.destroy();
    await sized;
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeExit, type ExitFacts } from '../../src/core/exit.js';

describe('how a berth ended, in words', () => {
  it('names only what the runtime knows, its own reason last', () => {
    const cases: Array<[ExitFacts, string]> = [
      [{ exitCode: 3 }, 'exit code 3'],
      [{ exitCode: null }, 'exit code unknown'],
      [{ exitCode: 137, signal: 'KILL' }, 'exit code 137, killed by SIGKILL'],
      [{ exitCode: 137, signal: 'KILL', oomKilled: true }, 'exit code 137, killed by SIGKILL, out of memory'],
      [{ exitCode: 137, signal: 'KILL', oomKilled: true, reason: 'OOMKilled' }, 'exit code 137, killed by SIGKILL, out of memory (OOMKilled)'],
      [{ exitCode: 1, reason: 'CrashLoopBackOff' }, 'exit code 1 (CrashLoopBackOff)'],
      [{ exitCode: 0, reason: null }, 'exit code 0'],
      // With no code, the reason is all there is to say.
      [{ exitCode: null, reason: 'its pod was deleted' }, 'its pod was deleted'],
    ];
    for (const [exit, words] of cases) assert.equal(describeExit(exit), words, JSON.stringify(exit));
  });
});

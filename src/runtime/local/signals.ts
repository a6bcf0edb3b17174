import { constants } from 'node:os';

/**
 * Signals as the runtime interface names them ("INT", without "SIG", as SSH
 * does) and as Node and the kernel need them.
 */

export function signalNumber(name: string): number | null {
  const value = (constants.signals as Record<string, number | undefined>)[`SIG${name}`];
  return value ?? null;
}

export function signalName(value: number | NodeJS.Signals): string | null {
  if (typeof value === 'string') return value.replace(/^SIG/, '');
  const entry = Object.entries(constants.signals).find(([, number]) => number === value);
  return entry ? entry[0].replace(/^SIG/, '') : null;
}

/**
 * Signals a whole process group (the negative pid). It never throws: the only
 * failures are "already gone" (ESRCH, stopping races with exiting) and "no
 * longer ours" (EPERM), and in both there is nothing left to stop.
 */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // gone or not ours: nothing left to signal
  }
}

/** The exit code a shell (and a container engine) reports for a process killed by a signal. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number | null {
  if (code !== null || signal === null) return code;
  return 128 + constants.signals[signal];
}

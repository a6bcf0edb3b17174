import type { ExecProcess } from '../runtime/types.js';

/** How long a process may outlive its hang-up before SIGKILL, and then before it is given up on. */
const HANGUP_GRACE_MS = 2000;

/**
 * Ends a session's process as a terminal closing does: SIGHUP, and SIGKILL
 * for what is left after a grace period. Resolves once it has exited or been
 * given up on.
 */
export async function hangUpProcess(proc: ExecProcess, exited: () => boolean): Promise<void> {
  if (exited()) return;
  proc.signal('HUP');
  if (!(await settles(proc.exited, HANGUP_GRACE_MS))) {
    proc.signal('KILL');
    await settles(proc.exited, HANGUP_GRACE_MS);
  }
}

function settles(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([promise.then(() => true), timeout]).finally(() => clearTimeout(timer));
}

import { constants } from 'node:os';

/** How a berth's main process ended, as far as its runtime can tell. */
export interface ExitFacts {
  exitCode: number | null;
  /** The signal that ended it, without SIG ("KILL"), when known. */
  signal?: string | null;
  /** The kernel's out-of-memory killer ended it (Docker reports this; the local runtime cannot tell). */
  oomKilled?: boolean;
  /** The runtime's own word for the end, where it says more than the code (Kubernetes: OOMKilled, CrashLoopBackOff, "its pod was deleted"). */
  reason?: string | null;
}

/**
 * "exit code 137, killed by SIGKILL, out of memory (OOMKilled)": what a
 * person is told of a berth that died, with only the parts that are known,
 * the runtime's own word last so it can be searched for.
 */
export function describeExit(exit: ExitFacts): string {
  if (exit.exitCode === null && exit.reason) return exit.reason;
  const parts = [exit.exitCode === null ? 'exit code unknown' : `exit code ${exit.exitCode}`];
  if (exit.signal) parts.push(`killed by SIG${exit.signal}`);
  if (exit.oomKilled) parts.push('out of memory');
  return exit.reason ? `${parts.join(', ')} (${exit.reason})` : parts.join(', ');
}

/**
 * The signal a shell-style exit code above 128 stands for (137: "KILL"), as
 * engines that report only codes (Docker) encode a death by signal; null for
 * any other code.
 */
export function signalOfExitCode(code: number | null): string | null {
  if (code === null || code <= 128) return null;
  const entry = Object.entries(constants.signals).find(([, number]) => number === code - 128);
  return entry ? entry[0].slice(3) : null;
}

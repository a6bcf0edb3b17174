import type { ProgressStep } from '../core/berth.js';
import type { BerthError, ErrorCode } from '../core/errors.js';
import type { LaunchRequest } from '../spawner/plan.js';
import type { BerthDirectory } from '../spawner/types.js';

/** Steps worth a line of their own: the ones that can take long enough to wonder about. */
const SHOWN_STEPS = new Set<ProgressStep>(['queued', 'pulling', 'creating']);
/** Lines of the berth's own output shown when it failed to start. */
const FAILURE_TAIL_LINES = 10;
const SPAWN_FAILURES = new Set<ErrorCode>(['spawn_failed', 'spawn_timeout']);

/**
 * Makes sure the user's berth is ready, telling the person on `write`
 * (the session's stderr) while it starts:
 *   berth: starting your environment… ready in 2.1 s
 * or, when it has steps worth showing, each on a line of its own and the
 * outcome on the last:
 *   berth: starting your environment…
 *     creating container berth-alice
 *     ready in 2.1 s
 * A ready berth costs nothing and prints nothing. On failure the spawner's
 * BerthError is rethrown for the caller to report (see failureReport).
 */
export async function ensureBerth(directory: BerthDirectory, user: string, write: (text: string) => void, eol: string, launch?: LaunchRequest): Promise<void> {
  if (directory.readyTarget(user) !== null) return;
  const began = Date.now();
  const ready = directory.ready(user, 'ssh', undefined, launch);
  write('berth: starting your environment…');
  // Events replayed by subscribe() belong to this spawn only while it is starting; a queued spawn replays the last.
  let live = directory.status(user).state === 'starting';
  let stepsShown = false;
  const unsubscribe = directory.subscribe(user, (event) => {
    if (!live || !SHOWN_STEPS.has(event.step)) return;
    write(`${eol}  ${event.message}`);
    stepsShown = true;
  });
  live = true;
  const outcome = (text: string) => write(`${stepsShown ? `${eol}  ` : ' '}${text}${eol}`);
  try {
    await ready;
    outcome(`ready in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  } catch (err) {
    outcome('failed');
    throw err;
  } finally {
    unsubscribe();
  }
}

/** What a person is told when their session could not run: the reason, and for a berth that failed to start, its last output. */
export function failureReport(directory: BerthDirectory, user: string, error: BerthError, eol: string): string {
  const tail = SPAWN_FAILURES.has(error.code) ? (directory.status(user).failure?.logTail.slice(-FAILURE_TAIL_LINES) ?? []) : [];
  return [`berth: ${error.userMessage}`, ...tail.map((line) => `  | ${line}`)].map((line) => `${line}${eol}`).join('');
}

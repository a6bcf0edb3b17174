/**
 * The berth as the gateway sees it: the state machine every runtime feeds and
 * every front (HTTP, SSH, API) reads. Pure data, no I/O.
 *
 *   stopped ──ensure──► starting ──ready──► ready ──stop/cull──► stopping ──► stopped
 *                          │                  │
 *                          └──fail/timeout──► failed ◄──exited── (crash)
 *   failed ──ensure──► starting  (the next request retries)
 *   ready ──idle.pauseAfterSeconds──► paused ──any use──► ready  (paused ──cull──► stopping)
 */
export type BerthState = 'stopped' | 'starting' | 'ready' | 'paused' | 'stopping' | 'failed';

export interface Failure {
  /** One line for the person: what happened and what to do. */
  reason: string;
  exitCode?: number | null;
  /** The berth's last output lines, oldest first. */
  logTail: string[];
  at: number;
}

/** Steps of a spawn, in order; the loading page names them. */
export type ProgressStep = 'queued' | 'pulling' | 'creating' | 'starting' | 'waiting' | 'ready' | 'failed' | 'stopped';

export interface ProgressEvent {
  step: ProgressStep;
  /** Human text, e.g. "waiting for port 8080 (3 tries)". */
  message: string;
  /** Milliseconds since the spawn began. */
  elapsedMs: number;
  /** Present on 'failed'. */
  failure?: Failure;
}

export interface BerthStatus {
  user: string;
  name: string;
  state: BerthState;
  /** When the current state began (ms since epoch). */
  since: number;
  startedAt: number | null;
  lastActivity: number | null;
  /** Progress of the current or last spawn. */
  progress: ProgressEvent[];
  failure: Failure | null;
  /** Runtime identity, e.g. a container id or a process id. */
  runtimeId: string | null;
  image: string | null;
  /** The profile (and its option choices) of the current or last spawn; null without profiles. */
  profile: { profile: string; options: Record<string, string> } | null;
}

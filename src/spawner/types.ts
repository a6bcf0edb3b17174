import type { BerthStatus, ProgressEvent } from '../core/berth.js';
import type { Duplex } from 'node:stream';
import type { BerthPort, ExecOptions, ExecProcess, ListeningPort } from '../runtime/types.js';
import type { LaunchRequest } from './plan.js';

/** Why a berth is being started; only some reasons may start a stopped berth (see src/http/startPolicy). */
export type StartReason = 'http' | 'ssh' | 'api' | 'tunnel';

/**
 * What HTTP, SSH and the API use to reach a user's berth. One implementation
 * (./spawner.ts); the fronts depend on this interface only.
 */
export interface BerthDirectory {
  status(user: string): BerthStatus;
  list(): BerthStatus[];
  /** The user whose berth has this safe name, among the berths this gateway tracks; null for any other. */
  userOf(name: string): string | null;
  /** The main port when the berth is ready, else null; synchronous (one object per ready berth) for the proxy's hot path. */
  readyTarget(user: string): BerthPort | null;
  /** Starts the berth if needed (single-flight per user) without waiting; `launch` is what the front knows (see ./plan.ts). */
  start(user: string, reason: StartReason, launch?: LaunchRequest): void;
  /** Starts if needed and resolves with the main port once ready; rejects with a BerthError on failure or after waitMs. */
  ready(user: string, reason: StartReason, waitMs?: number, launch?: LaunchRequest): Promise<BerthPort>;
  /** Another port of a ready berth; throws a BerthError when the berth is not ready. */
  target(user: string, port: number): BerthPort;
  /**
   * The one way into a berth's port (proxy pools, app hosts, SSH forwards,
   * tunnels): a stream to it through the runtime, for a berth that is ready.
   */
  connect(target: BerthPort): Promise<Duplex>;
  exec(user: string, options: ExecOptions): Promise<ExecProcess>;
  /** TCP ports listening inside a ready berth. */
  listening(user: string): Promise<ListeningPort[]>;
  stop(user: string, why: string): Promise<void>;
  /** Progress events of the current spawn, then every later one; returns the unsubscribe. */
  subscribe(user: string, listener: (event: ProgressEvent, status: BerthStatus) => void): () => void;
  /** Record activity (a proxied request, client WebSocket data, an SSH session). */
  touch(user: string): void;
  /** Hold the berth as active while something (an SSH session) is open; call the result to release. */
  hold(user: string): () => void;
  /** Called when a berth stops for any reason (idle cull, admin stop, exit), so open sessions can close with a message. */
  onStopped(listener: (user: string, why: string) => void): () => void;
}

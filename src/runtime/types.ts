import type { Duplex, Readable, Writable } from 'node:stream';
import type { ExitFacts } from '../core/exit.js';
import type { HomeFile } from '../core/homeFiles.js';
import type { HostPort } from '../core/net.js';

/**
 * The seam between the gateway and whatever runs berths. A new runtime is one
 * folder implementing this and one line in ./registry.ts. Names passed in are
 * safe names (src/core/safeName.ts); runtimes never see raw usernames except
 * as the BERTH_USER value and a label.
 */

export interface BerthSpec {
  /** The username, as given to the berth in BERTH_USER and kept in labels. */
  user: string;
  /** The safe name: the berth's identity in the runtime. */
  name: string;
  image: string | null;
  /** argv; ${PORT} and ${USER} still unsubstituted (the runtime knows the port). */
  command: string[] | null;
  /** The main web port inside the berth (local runtime: a hint, it allocates its own). */
  port: number;
  env: Record<string, string>;
  homePath: string;
  workingDir: string | null;
  runAsUser: string | null;
  limits: { memory: string | null; cpus: number | null; pids: number | null };
  capabilities: string[];
  readOnlyRoot: boolean;
  mounts: Array<{ source: string; target: string; readOnly: boolean }>;
  /** Scheduling and extra resources (nvidia.com/gpu) for the Kubernetes runtime, from a profile; merged over runtime.kubernetes' own. */
  kubernetes?: KubernetesPlacement;
  /** Labels from a config webhook's answer, beneath the gateway's own (which always win). */
  labels?: Record<string, string>;
  /** The profile and choices the berth was made from, so that picking another re-creates it. */
  profile?: { slug: string; options: Record<string, string> };
  /** A digest of everything above that shapes the berth; a change means re-create. */
  hash: string;
  /**
   * Files (a config webhook's) written into the home at every start, before
   * the berth's own processes run; outside the hash, since writing them again
   * needs no re-create. A runtime that cannot write them refuses the start.
   */
  files?: HomeFile[];
}

export interface KubernetesPlacement {
  nodeSelector: Record<string, string>;
  tolerations: Array<{ key?: string; operator?: 'Equal' | 'Exists'; value?: string; effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'; tolerationSeconds?: number }>;
  /** Extended resources, each requested and limited alike: {"nvidia.com/gpu": "1"}. */
  resources: Record<string, string>;
}

/** 'paused': frozen by Runtime.pause, memory kept; reported only by runtimes that can pause. */
export type ObservedState = 'running' | 'paused' | 'stopped' | 'exited' | 'absent';

/** What the runtime itself reports about a berth. */
export interface Observed {
  name: string;
  user: string;
  state: ObservedState;
  /** Container id, pod uid, or process id. */
  id: string | null;
  exitCode: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  specHash: string | null;
  image: string | null;
}

/** A port inside a berth, named by the berth's safe name: what every way in (proxy, SSH, tunnels) opens through Runtime.connect. */
export interface BerthPort {
  readonly name: string;
  readonly port: number;
}

/** A TCP port some process in the berth listens on. */
export interface ListeningPort {
  port: number;
  /** Bound only to a loopback address (127.0.0.0/8, ::1): what dev servers do by default. */
  loopbackOnly: boolean;
  /** Set when this gateway cannot reach the listener (a loopback-only one on a runtime without a way into the berth's namespace): why, in words for the user. */
  unreachable?: string;
}

export type RuntimeProgress = (step: 'pulling' | 'creating' | 'starting', message: string) => void;

export interface StopOptions {
  /** Also remove the container/pod (never the home). */
  remove: boolean;
  graceSeconds: number;
}

export interface ExecOptions {
  /** null: the berth's login shell. */
  command: string[] | null;
  env: Record<string, string>;
  /** A terminal, or null for separate stdout and stderr pipes. */
  tty: { term: string; rows: number; cols: number } | null;
}

export interface ExecProcess {
  stdin: Writable;
  stdout: Readable;
  /** Empty (ends at once) when a tty merges the streams. */
  stderr: Readable;
  resize(rows: number, cols: number): void;
  /** A signal name without SIG, e.g. "INT"; ignored where unsupported. */
  signal(name: string): void;
  /** Resolves when the process ends; `signal` is named as in signal() ("INT"), with `code` null, when one ended it. */
  exited: Promise<{ code: number | null; signal: string | null }>;
}

/** A berth that ended without being asked to; `signal` and `oomKilled` as the runtime knows them (src/core/exit.ts). */
export interface BerthExit extends ExitFacts {
  name: string;
}

/** What a runtime does to berths, where it differs from making and ending them. */
export interface RuntimeCapabilities {
  /** Makes berths from the spec; false: finds berths something else runs (attach), ready as soon as found. */
  creates: boolean;
  /** stop() ends the berth's processes; false: it only forgets the berth, which keeps running. */
  stops: boolean;
}

/** Where a berth itself holds keys its user may log in with (attach.keySources "label" and "files"). */
export type BerthKeySource = 'label' | 'files';

/** authorized_keys text read from a berth, with where it was read, for log lines. */
export interface BerthKeyText {
  origin: string;
  text: string;
}

export interface Runtime {
  readonly kind: string;
  /** Absent: the runtime creates and stops berths. */
  readonly capabilities?: RuntimeCapabilities;
  /** Throws BerthError('runtime_unavailable') naming what is wrong when berths cannot be run. */
  health(): Promise<void>;
  /**
   * Called once at start, before the gateway serves: readies what keeps berths
   * apart (docker: the berth network, isolated) and learns the addresses
   * berths connect from. Throws a BerthError whose userMessage tells the
   * operator the exact fix when berths could reach each other; an engine that
   * is not there yet is no error (checked again before each berth is made).
   */
  prepare(): Promise<void>;
  /**
   * Whether a connection from `address` may come from one of this runtime's
   * berths, so is never believed as a proxy. Called per request: answers from
   * what prepare() (and making berths) learnt, with no engine call.
   */
  isBerthAddress(address: string | undefined): boolean;
  /**
   * Create (or start, or re-create on a spec change) and run the berth;
   * resolves once it runs, not once it listens. `generation`, given when
   * several gateways share the store, is the spawn lease's fencing token:
   * written into the labels of what is made, and a berth made under a newer
   * one is left alone (BerthError 'spawn_superseded').
   */
  ensure(spec: BerthSpec, progress: RuntimeProgress, generation?: number): Promise<Observed>;
  inspect(name: string): Promise<Observed>;
  stop(name: string, options: StopOptions): Promise<void>;
  list(): Promise<Observed[]>;
  /**
   * Opens a TCP stream to `port` inside the berth, wherever its listener is
   * bound (0.0.0.0, 127.0.0.1 or ::1): the one way into a berth's ports (HTTP
   * proxy, app hosts, SSH -L/-D, berth forward tunnels, readiness, later the
   * terminal). Resolves once connected (a net.Socket where the runtime has
   * one); rejects with a BerthError saying what to do, within a bounded time.
   */
  connect(name: string, port: number): Promise<Duplex>;
  /**
   * TCP ports listening inside the running berth, each marked loopback-only
   * or not (from /proc/net/tcp and tcp6; local runtime: only sockets held by
   * the berth's processes).
   */
  listening(name: string): Promise<ListeningPort[]>;
  /** The main web port inside the running berth, for connect() (local runtime: the port it allocated). */
  mainPort(name: string): Promise<number>;
  /** The last `lines` lines of the berth's output. */
  logs(name: string, lines: number): Promise<string[]>;
  exec(name: string, options: ExecOptions): Promise<ExecProcess>;
  /**
   * Freezes the running berth's processes, keeping their memory (docker and
   * podman: the engine's pause; local: SIGSTOP to its process groups). Absent
   * where the runtime cannot pause (kubernetes, attach): idle berths are then only
   * stopped. Rejects with BerthError 'pause_unsupported' (its userMessage
   * the reason and the fix) where this engine cannot, after all (rootless
   * Podman on cgroup v1). A paused berth is listed and inspected as 'paused'.
   */
  pause?(name: string): Promise<void>;
  /** Thaws a berth pause() froze; present exactly when pause is. */
  resume?(name: string): Promise<void>;
  /**
   * Makes sure `image` is on the engine ahead of any berth that needs it,
   * pulling it (with progress lines) only when it is missing, as ensure
   * would; resolves with which. Rejects with a BerthError whose logMessage
   * carries the engine's reason. Absent where the gateway pulls nothing
   * (local: no images; kubernetes: each node's kubelet pulls).
   */
  prePull?(image: string, progress: (message: string) => void): Promise<'present' | 'pulled'>;
  /**
   * The keys the user's berth holds itself, from every running container
   * that may be theirs (so a key is known even while the refusal to pick one
   * of several stands). Only runtimes whose berths carry keys (attach) have it.
   */
  authorizedKeys?(user: string, source: BerthKeySource): Promise<BerthKeyText[]>;
  /** Called when a running berth exits without being asked to. */
  onExit(listener: (exit: BerthExit) => void): void;
  close(): Promise<void>;
}

export function substituteArgs(argv: readonly string[], values: { PORT: number; USER: string }): string[] {
  return argv.map((arg) => arg.replace(/\$\{(PORT|USER)\}/g, (_, key: 'PORT' | 'USER') => String(values[key])));
}

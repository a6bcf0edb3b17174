import type { BerthSpec } from '../../types.js';
import { memoryBytes } from '../../spec.js';
import { revealsFor, type SandboxLayout } from './layout.js';

/**
 * The namespaces every sandboxed berth gets: its own user (so the gateway
 * needs no privilege, and owns what it enters), mount, PID, network (loopback
 * only), IPC, UTS and, where the kernel has it, cgroup namespace. The
 * sandbox dies with the gateway, starts a session of its own (no terminal
 * of the gateway's to inject input into), and keeps no capability.
 *
 * Inside, the berth is uid 0 of its user namespace (the gateway's own user
 * outside, with no capability): any other uid makes an unprivileged bwrap
 * nest a second user namespace to mount /dev's pseudo-terminals, and the
 * gateway could then no longer enter the other namespaces, which belong to
 * the first one.
 */
export const BWRAP_ISOLATION = ['--unshare-all', '--unshare-user', '--uid', '0', '--gid', '0', '--die-with-parent', '--new-session', '--cap-drop', 'ALL'];

/** What `berth serve` probes at start: the same isolation around `true`. */
export const BWRAP_PROBE = [...BWRAP_ISOLATION, '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', 'true'];

/**
 * bwrap's arguments for one berth: the host read-only, a fresh /dev, /proc
 * of its own PID namespace and /tmp, the masks, what the masks show again,
 * then its home read-write at its usual path, where it starts. bwrap applies
 * them in order, so a later mount lies over an earlier one. It reports the
 * sandbox's first process on fd 3 (--info-fd), which execs enter; but it
 * writes that as soon as the namespaces exist, before the masks are mounted,
 * so the berth's own first step inside, once everything is in place, is to
 * say so on fd 4 (READY_SCRIPT): nothing enters the sandbox before that.
 */
export function bwrapArgs(layout: SandboxLayout, spec: BerthSpec, home: string, argv: readonly string[]): string[] {
  const args = [...BWRAP_ISOLATION, '--hostname', spec.name, '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp'];
  for (const mask of layout.masks) {
    args.push(...(mask.kind === 'dir' ? ['--tmpfs', mask.path] : ['--ro-bind', '/dev/null', mask.path]));
  }
  for (const path of revealsFor(layout, argv)) args.push('--ro-bind', path, path);
  args.push('--bind', home, home, '--chdir', home, '--info-fd', '3', '--', 'sh', '-c', READY_SCRIPT, 'berth-sandbox');
  return args;
}

/** Says "ready" on fd 4, closes it (the berth must not keep it), then becomes the berth's command ("$@"). */
export const READY_SCRIPT = 'echo ready >&4 && exec 4>&- && exec "$@"';

/**
 * argv that runs a program inside a running sandbox, as `docker exec` does:
 * in every namespace of its first process (`pid`, as the host sees it), in
 * its working directory, with no capability and no new privileges (entering
 * the user namespace grants all of its capabilities, which would let a
 * process unmount the masks), under the berth's limits.
 */
export function enterArgs(pid: number, spec: BerthSpec): string[] {
  return [
    'nsenter',
    `--target=${pid}`,
    '--user',
    '--mount',
    '--net',
    '--pid',
    '--ipc',
    '--uts',
    '--preserve-credentials',
    '--wd',
    '--',
    'setpriv',
    '--no-new-privs',
    '--bounding-set=-all',
    '--inh-caps=-all',
    '--',
    ...rlimitArgs(spec.limits),
  ];
}

/** argv prefix that runs a gateway helper in only the sandbox's user and network namespaces: the port relay. */
export function enterNetworkArgs(pid: number): string[] {
  return ['nsenter', `--target=${pid}`, '--user', '--net', '--preserve-credentials', '--'];
}

/**
 * environment.limits as rlimits, applied inside the sandbox: memory as
 * RLIMIT_DATA (a process's private memory; RLIMIT_AS would count address
 * space a runtime such as V8 only reserves), pids as RLIMIT_NPROC, which the
 * kernel counts per user namespace, so per berth. A CPU share has no rlimit.
 */
export function rlimitArgs(limits: BerthSpec['limits']): string[] {
  const args: string[] = [];
  if (limits.memory !== null) args.push(`--data=${memoryBytes(limits.memory)}`);
  if (limits.pids !== null) args.push(`--nproc=${limits.pids}`);
  return args.length === 0 ? [] : ['prlimit', ...args, '--'];
}

/** How one sandboxed berth's processes are started, for BerthProcess: each an argv prefix. */
export interface Confinement {
  /** Starts `argv` as the main command in a new sandbox that reports its first process on fd 3. */
  start(argv: readonly string[]): string[];
  /** Runs a command inside the sandbox whose first process is `pid` (as the host sees it). */
  enter(pid: number): string[];
}

export function bwrapConfinement(layout: SandboxLayout, spec: BerthSpec, home: string): Confinement {
  return {
    start: (argv) => ['bwrap', ...bwrapArgs(layout, spec, home, argv), ...rlimitArgs(spec.limits), ...argv],
    enter: (pid) => enterArgs(pid, spec),
  };
}

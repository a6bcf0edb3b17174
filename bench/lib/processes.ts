import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

/** A server in a child process of its own, so it does not share an event loop with the load or the other servers. */
export interface ServerProcess {
  url: string;
  port: number;
  pid: number;
  /** CPU time (user + system) used so far, in ms, or null where /proc is not there to tell. */
  cpuMs(): number | null;
  /** Resident memory now, in KiB, or null where /proc is not there to tell. */
  rssKiB(): number | null;
  /** SIGTERM, then SIGKILL if it has not exited within a few seconds. */
  stop(): Promise<void>;
}

/** How a started command shows that it serves: a line of its output naming the address, or a known port accepting. */
export type Readiness = { pattern: RegExp } | { port: number };

const LISTENING = /listening on (http:\/\/[^\s]+:(\d+))/;
const START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

/**
 * Runs an entry point (a .ts one through tsx) that prints "listening on
 * http://host:port" once it serves, and resolves when it has.
 */
export async function startServer(script: string, env: Record<string, string>, nodeArgs: readonly string[] = []): Promise<ServerProcess> {
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  return startCommand(process.execPath, [...nodeArgs, ...loader, script], env, { pattern: LISTENING });
}

/**
 * Runs any command and resolves once it serves. A pattern's first group is
 * the URL (or host:port) and its second the port. `nofile` raises the descriptor limit of
 * the command and its children (through prlimit, as root) for benches that
 * hold many sockets.
 */
export async function startCommand(file: string, args: readonly string[], env: Record<string, string>, ready: Readiness, nofile?: number): Promise<ServerProcess> {
  const raise = nofile !== undefined && nofile > nofileLimits().soft;
  const [command, argv] = raise ? ['prlimit', [`--nofile=${nofile}:${nofile}`, file, ...args]] : [file, args];
  const child = spawn(command, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4096);
  };
  // Both stay attached after start-up, so a chatty child never blocks on a full pipe.
  child.stderr.on('data', collect);
  child.stdout.on('data', collect);
  try {
    const { url, port } = await new Promise<{ url: string; port: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${file} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      const done = (found: { url: string; port: number }): void => {
        clearTimeout(timer);
        resolve(found);
      };
      if ('pattern' in ready) {
        const look = (): void => {
          const match = ready.pattern.exec(output);
          if (match) {
            child.stdout.off('data', look);
            child.stderr.off('data', look);
            const url = match[1] as string;
            done({ url: url.startsWith('http') ? url : `http://${url}`, port: Number(match[2]) });
          }
        };
        child.stdout.on('data', look);
        child.stderr.on('data', look);
      } else {
        void waitForPort(ready.port, START_TIMEOUT_MS).then((ok) => ok && done({ url: `http://127.0.0.1:${ready.port}`, port: ready.port }));
      }
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${file} exited (${code ?? signal}) before serving`));
      });
    });
    const pid = child.pid as number;
    return { url, port, pid, cpuMs: () => cpuMs(pid), rssKiB: () => rssKiB(pid), stop: () => stopChild(child) };
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}; its output ended with:\n${output}`);
  }
}

/** This process's limits on open files, which children inherit. */
export function nofileLimits(): { soft: number; hard: number } {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const read = (text: string | undefined): number => (text === undefined || text === 'unlimited' ? 1_048_576 : Number(text));
  return { soft: read(match?.[1]), hard: read(match?.[2]) };
}

/** Polls until 127.0.0.1:port accepts a connection, every 5 ms; false after timeoutMs. */
export async function waitForPort(port: number, timeoutMs: number, host = '127.0.0.1'): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return false;
}

/** utime + stime from /proc/<pid>/stat, in clock ticks of 10 ms (USER_HZ is 100 on Linux). */
export function cpuMs(pid: number): number | null {
  return statCpuMs(pid);
}

/** CPU time of a process and its children (nginx's master and worker), in ms. */
export function treeCpuMs(pid: number): number | null {
  const own = statCpuMs(pid);
  if (own === null) return null;
  return childPids(pid).reduce((sum, child) => sum + (statCpuMs(child) ?? 0), own);
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function statCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

function rssKiB(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

/** A server in a child process of its own, so it does not share an event loop with the load or the other servers. */
export interface ServerProcess extends Daemon {
  url: string;
  port: number;
}

const LISTENING = /listening on (http:\/\/[^\s]+:(\d+))/;
const START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

/**
 * Runs an entry point (a .ts one through tsx) that prints "listening on
 * http://host:port" once it serves, and resolves when it has.
 */
export async function startServer(script: string, env: Record<string, string>, nodeArgs: readonly string[] = []): Promise<ServerProcess> {
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...nodeArgs, ...loader, script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { match, daemon } = await startDaemon(child, LISTENING, script);
  return { ...daemon, url: match[1] as string, port: Number(match[2]) };
}

/** A child process serving something, once it has said so. */
export interface Daemon {
  pid: number;
  /** CPU time (user + system) used so far, in ms, or null where /proc is not there to tell. */
  cpuMs(): number | null;
  /** SIGTERM, then SIGKILL if it has not exited within a few seconds. */
  stop(): Promise<void>;
}

/**
 * Waits until `child` (spawned with stdout and/or stderr piped) prints a line
 * matching `ready`; kills it, with the end of its output in the error, when
 * it exits first or takes longer than START_TIMEOUT_MS.
 */
export async function startDaemon(child: ChildProcess, ready: RegExp, name: string): Promise<{ match: RegExpExecArray; daemon: Daemon }> {
  let output = '';
  try {
    const match = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      // Stays attached after the match, so a chatty child never blocks on a full pipe.
      const collect = (chunk: Buffer): void => {
        output = (output + chunk.toString('utf8')).slice(-4096);
        const match = ready.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match);
        }
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code ?? signal}) before it was ready`));
      });
    });
    const pid = child.pid as number;
    return { match, daemon: { pid, cpuMs: () => cpuMs(pid), stop: () => stopChild(child) } };
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}; its output ended with:\n${output}`);
  }
}

/** utime + stime from /proc/<pid>/stat, in clock ticks of 10 ms (USER_HZ is 100 on Linux). */
function cpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
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

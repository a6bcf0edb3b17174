import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

/** A server in a child process of its own, so it does not share an event loop with the load or the other servers. */
export interface ServerProcess {
  url: string;
  port: number;
  pid: number;
  /** CPU time (user + system) used so far, in ms, or null where /proc is not there to tell. */
  cpuMs(): number | null;
  /** SIGTERM, then SIGKILL if it has not exited within a few seconds. */
  stop(): Promise<void>;
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
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4096);
  };
  child.stderr.on('data', collect);
  try {
    const { url, port } = await new Promise<{ url: string; port: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${script} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      // Stays attached after the match, so a chatty child never blocks on a full pipe.
      child.stdout.on('data', (chunk: Buffer) => {
        collect(chunk);
        const match = LISTENING.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve({ url: match[1] as string, port: Number(match[2]) });
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${script} exited (${code ?? signal}) before listening`));
      });
    });
    const pid = child.pid as number;
    return { url, port, pid, cpuMs: () => cpuMs(pid), stop: () => stopChild(child) };
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

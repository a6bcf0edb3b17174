import { spawn, type ChildProcess } from 'node:child_process';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { eventually, httpRequest } from './http.js';

/** The `berth` command from the sources, as `npx berth` runs it in a checkout. */
export const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

/** environment.command of a berth that answers with whom it runs for (BERTH_USER), its pid and the headers it was sent, as JSON. */
export const ECHO_BERTH = `[${JSON.stringify(process.execPath)}, -e, "require('http').createServer((q,s)=>s.end(JSON.stringify({user:process.env.BERTH_USER,pid:process.pid,headers:q.headers}))).listen(+process.env.PORT,'127.0.0.1')"]`;

export interface Served {
  child: ChildProcess;
  /** http://127.0.0.1:<port> of its HTTP listener. */
  base: string;
  /** Its JSON log lines, parsed, as they arrive. */
  lines: Array<Record<string, unknown>>;
  /** Everything it printed that is not a JSON log line (errors, stack traces). */
  output(): string;
  exited: Promise<number | null>;
}

/**
 * `berth serve` as an operator runs it: a child process on the composition
 * root, resolved once /_berth/healthz answers 200. Listens on a free loopback
 * port unless `env` sets BERTH_LISTEN_HTTP. `launcher` is a command that
 * execs the rest (e.g. `prlimit --nofile=…`), so the child is still the gateway.
 */
export async function berthServe(args: readonly string[], env: Record<string, string>, waitMs = 30_000, launcher: readonly string[] = []): Promise<Served> {
  const listen = env.BERTH_LISTEN_HTTP ?? `127.0.0.1:${await freeLoopbackPort()}`;
  const [file = process.execPath, ...launcherArgs] = [...launcher, process.execPath];
  const child = spawn(file, [...launcherArgs, ...CLI, 'serve', ...args], {
    env: { ...process.env, ...env, BERTH_LISTEN_HTTP: listen },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let rest = '';
  let other = '';
  const collect = (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
      else other += `${line}\n`;
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', (chunk: Buffer) => (other += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const base = `http://${listen}`;
  try {
    await eventually(
      () => httpRequest(`${base}/_berth/healthz`).then((r) => (r.status === 200 ? true : undefined), () => undefined),
      waitMs,
      'berth serve to answer /_berth/healthz',
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}; it printed:\n${other}`);
  }
  return { child, base, lines, output: () => other, exited };
}

/** Sends `signal` unless it has exited already; resolves with its exit code. */
export function stopServe(served: Served, signal: NodeJS.Signals): Promise<number | null> {
  if (served.child.exitCode === null && served.child.signalCode === null) served.child.kill(signal);
  return served.exited;
}

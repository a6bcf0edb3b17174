import type { Readable } from 'node:stream';
import type { ExecProcess } from './types.js';

/** TCP_LISTEN in the `st` column of /proc/net/tcp. */
const LISTEN = '0A';
/**
 * 127.0.0.11 as /proc/net/tcp writes it: Docker's embedded DNS server listens
 * there on a random port inside every container on a user-defined network.
 * It is the engine's, not a service of the berth.
 */
const CONTAINER_DNS = '0B00007F';
const MAX_BYTES = 4 * 1024 * 1024;

/**
 * Listening TCP ports in the text of /proc/net/tcp and /proc/net/tcp6 (any
 * number of them concatenated; header lines are skipped). With `inodes`,
 * only sockets whose inode is in the set: the ones some process holds open.
 * Each line: "sl local_address rem_address st … uid timeout inode …", the
 * local address as hex "0100007F:0BB8" (port 3000).
 */
export function listeningPorts(text: string, only: { inodes?: ReadonlySet<string>; skipContainerDns?: boolean } = {}): number[] {
  const ports = new Set<number>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || fields[3] !== LISTEN) continue;
    if (only.inodes !== undefined && !only.inodes.has(fields[9] as string)) continue;
    const local = fields[1] as string;
    if (only.skipContainerDns && local.startsWith(`${CONTAINER_DNS}:`)) continue;
    const port = parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    if (port > 0 && port <= 65535) ports.add(port);
  }
  return [...ports].sort((a, b) => a - b);
}

/** The berth's own view, for runtimes whose berths have their own network namespace: no agent, only `cat`. */
export async function listeningByExec(run: (command: string[]) => Promise<ExecProcess>): Promise<number[]> {
  // tcp6 is absent where IPv6 is off: cat still prints tcp and only its exit code says so.
  const exec = await run(['cat', '/proc/net/tcp', '/proc/net/tcp6']);
  exec.stdin.end();
  exec.stderr.resume();
  const [text] = await Promise.all([readAll(exec.stdout), exec.exited]);
  return listeningPorts(text, { skipContainerDns: true });
}

async function readAll(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += String(chunk);
    if (text.length > MAX_BYTES) break;
  }
  return text;
}

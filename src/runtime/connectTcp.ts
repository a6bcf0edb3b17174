import { connect, type Socket } from 'node:net';
import { BerthError } from '../core/errors.js';

/** How long a berth's port may take to accept before the attempt is given up (a dropped SYN would hang for minutes). */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A TCP connection to `host:port`, resolved once connected, with Nagle off
 * (proxied requests and interactive forwards are latency-bound). Failures
 * become the BerthError every way into a berth reports: refused, timed out.
 * `berth` names the berth in the log line. `paused`: nothing is read from
 * the connection until its user resumes it, for a socket handed to another
 * process, where bytes read here (a server that speaks first) would be lost.
 */
export function connectTcp(berth: string, host: string, port: number, options: { timeoutMs?: number; paused?: boolean } = {}): Promise<Socket> {
  const timeoutMs = options.timeoutMs ?? CONNECT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    // Before the connect completes, so Node never starts its first read.
    if (options.paused) socket.pause();
    const fail = (err: Error): void => {
      socket.destroy();
      reject(connectFailure(berth, port, err, `${host}:${port}`));
    };
    socket.setTimeout(timeoutMs, () => fail(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

/** The error for a port of a berth that could not be opened; `where` is the log's detail of what was tried. */
export function connectFailure(berth: string, port: number, err: Error, where: string): BerthError {
  const code = (err as NodeJS.ErrnoException).code;
  const userMessage =
    code === 'ETIMEDOUT'
      ? `Port ${port} in your environment did not accept the connection in time; check the server on it and try again.`
      : `Nothing in your environment answers on port ${port}${code === 'ECONNREFUSED' ? ' (connection refused)' : ''}; start a server on it and try again.`;
  return new BerthError({ code: 'upstream_failed', userMessage, logMessage: `berth ${berth}: connect to port ${port} (${where}) failed: ${err.message}`, cause: err });
}

/** The refusal for a port the berth does not listen on, before anything is dialled. */
export function notListening(berth: string, port: number, detail: string): BerthError {
  return new BerthError({
    code: 'upstream_failed',
    userMessage: `Nothing in your environment listens on port ${port}; start a server on it (on any address) and try again.`,
    logMessage: `berth ${berth} has no listener of its own on port ${port}${detail}`,
  });
}

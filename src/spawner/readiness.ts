import { request } from 'node:http';
import { connect } from 'node:net';
import type { Endpoint } from '../runtime/types.js';

function tcpAccepts(endpoint: Endpoint, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function httpAnswers(endpoint: Endpoint, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: endpoint.host, port: endpoint.port, path, method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 500);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

export interface ProbeOptions {
  readyPath: string | null;
  deadline: number;
  /** Stops the wait early, e.g. when the berth has exited. */
  abandoned: () => boolean;
  onAttempt: (attempt: number) => void;
}

/**
 * Polls until the berth's port accepts a connection (and readyPath answers
 * below 500). Starts at 25 ms because a local berth is often up within
 * 100 ms, backing off to 1 s so a slow container is not hammered.
 */
export async function waitUntilReady(endpoint: () => Promise<Endpoint>, options: ProbeOptions): Promise<boolean> {
  let delay = 25;
  for (let attempt = 1; Date.now() < options.deadline; attempt++) {
    if (options.abandoned()) return false;
    options.onAttempt(attempt);
    const target = await endpoint().catch(() => null);
    const remaining = Math.max(1, options.deadline - Date.now());
    if (target && (await tcpAccepts(target, Math.min(2000, remaining)))) {
      if (options.readyPath === null || (await httpAnswers(target, options.readyPath, Math.min(5000, remaining)))) return true;
    }
    await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, options.deadline - Date.now()))));
    delay = Math.min(1000, Math.round(delay * 1.6));
  }
  return false;
}

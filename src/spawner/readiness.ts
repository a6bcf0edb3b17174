import { request } from 'node:http';
import type { Duplex } from 'node:stream';

/** Opens a connection to the berth's main port (Runtime.connect). */
export type OpenMain = () => Promise<Duplex>;

/** Whether a connection opens within `timeoutMs`; one that opens later is closed unused. */
function accepts(open: OpenMain, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      resolve(false);
    }, timeoutMs);
    open().then(
      (socket) => {
        socket.destroy();
        clearTimeout(timer);
        if (!late) resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(false);
      },
    );
  });
}

function httpAnswers(open: OpenMain, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    open().then(
      (socket) => {
        const req = request({ host: 'localhost', path, method: 'GET', timeout: timeoutMs, createConnection: () => socket }, (res) => {
          res.resume();
          resolve((res.statusCode ?? 500) < 500);
          req.destroy();
        });
        req.once('timeout', () => req.destroy());
        req.once('error', () => resolve(false));
        req.end();
      },
      () => resolve(false),
    );
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
 * 100 ms, backing off to 1 s so a slow container is not hammered. Every
 * attempt goes through the runtime's connect, so a berth whose server listens
 * only on its own loopback is ready as soon as it accepts there.
 */
export async function waitUntilReady(open: OpenMain, options: ProbeOptions): Promise<boolean> {
  let delay = 25;
  for (let attempt = 1; Date.now() < options.deadline; attempt++) {
    if (options.abandoned()) return false;
    options.onAttempt(attempt);
    const remaining = Math.max(1, options.deadline - Date.now());
    if (await accepts(open, Math.min(2000, remaining))) {
      if (options.readyPath === null || (await httpAnswers(open, options.readyPath, Math.min(5000, remaining)))) return true;
    }
    await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, options.deadline - Date.now()))));
    delay = Math.min(1000, Math.round(delay * 1.6));
  }
  return false;
}

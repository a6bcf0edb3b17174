import { httpRequest } from './http.js';

interface Worker {
  id: number;
  pid: number;
}

/** One /_berth/healthz on a connection of its own (so the cluster's primary hands each to the next worker), or null without an answer. */
async function healthz(base: string): Promise<{ worker?: Worker } | null> {
  const reply = await httpRequest(`${base}/_berth/healthz`).catch(() => null);
  return reply === null ? null : (JSON.parse(reply.body) as { worker?: Worker });
}

/** The worker of `berth serve --workers N` that answered one /_berth/healthz, or undefined (no answer, or none named). */
export async function healthzWorker(base: string): Promise<Worker | undefined> {
  return (await healthz(base))?.worker;
}

/**
 * The gateway processes that answer /_berth/healthz on `base`, pid → worker
 * number (a lone gateway names neither and counts as one, pid 0), asked
 * until `count` have answered or `timeoutMs` passed.
 */
export async function workersAnswering(base: string, count: number, timeoutMs: number): Promise<Map<number, number>> {
  const seen = new Map<number, number>();
  const deadline = Date.now() + timeoutMs;
  while (seen.size < count) {
    if (Date.now() > deadline) throw new Error(`only ${seen.size} of ${count} gateway processes answered ${base}/_berth/healthz within ${timeoutMs / 1000} s`);
    const answer = await healthz(base);
    if (answer !== null) seen.set(answer.worker?.pid ?? 0, answer.worker?.id ?? 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return seen;
}

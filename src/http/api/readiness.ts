import type { Store } from '../../store/store.js';
import { sendJson } from '../respond.js';
import type { Route } from '../routes.js';

/** Longer than this and the store counts as unreachable: a probe must answer before the balancer's own timeout. */
const STORE_PING_MS = 2_000;

/**
 * Whether this gateway should get new requests. /_berth/healthz says it is
 * alive; /_berth/readyz says a load balancer or Kubernetes may send it work:
 * the store answers and the gateway is not draining. On SIGTERM the gateway
 * drains first (readyz turns 503 while requests are still served), so a
 * balancer takes it out of rotation before its listener closes.
 */
export class Readiness {
  private draining = false;

  drain(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }
}

export function readinessRoutes(readiness: Readiness, store: Pick<Store, 'ping' | 'dialect'>): Route[] {
  return [
    {
      method: 'GET',
      path: '/_berth/readyz',
      access: 'public',
      handler: async ({ res }) => {
        if (readiness.isDraining) {
          sendJson(res, 503, { status: 'draining', store: store.dialect, reason: 'This gateway is shutting down; send requests to another one.' });
          return;
        }
        const problem = await pingWithin(store, STORE_PING_MS);
        if (problem === null) sendJson(res, 200, { status: 'ready', store: store.dialect });
        else sendJson(res, 503, { status: 'unavailable', store: store.dialect, reason: `The store does not answer (${problem}); check that the database is up and reachable.` });
      },
    },
  ];
}

/**
 * Null when the store answers in time and (several gateways) this one hears
 * the others' berth changes; else why not, for /_berth/healthz.
 */
export async function storeProblem(store: Pick<Store, 'ping'>, notifications: () => string | null): Promise<string | null> {
  const problem = await pingWithin(store, STORE_PING_MS);
  if (problem !== null) return `The store does not answer (${problem}): berths already running are served, what needs the store is refused with 503; check that the database is up and reachable.`;
  const deaf = notifications();
  return deaf === null ? null : `This gateway is ${deaf}; it reconnects by itself.`;
}

/** Null when the store answered in time, else why not (no URL or password in it: pg's messages name neither). */
async function pingWithin(store: Pick<Store, 'ping'>, ms: number): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${ms} ms`), ms);
  });
  try {
    return await Promise.race([store.ping().then(() => null), late]);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}

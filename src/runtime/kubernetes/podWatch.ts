import { Watch, type CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.js';
import { apiMessage, apiStatus } from './apiErrors.js';

/*
 * The gateway's view of its pods: one list + watch per namespace on the
 * instance's label selector. It must not go silent (the best-known failure
 * of KubeSpawner's reflector and of client-node informers, which stop on
 * errors), so it is supervised:
 *
 *   listing ──ok──► watching ──server closed──► watching (from the last resourceVersion)
 *      ▲                │
 *      │                ├─410 Gone / resync due / forced─► listing
 *      └──back-off──────┴─error─► failing
 *
 * Back-off doubles from MIN to MAX with jitter and resets once a list
 * succeeds. A re-list compares with what it knew and reports every pod that
 * changed or went meanwhile, so no exit is missed while the watch was down.
 */

export type WatchState = 'listing' | 'watching' | 'failing' | 'closed';
export type PodChange = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchHealth {
  state: WatchState;
  /** When the state last changed (ms). */
  since: number;
  lastError: string | null;
  restarts: number;
}

export interface PodWatchOptions {
  resyncMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  /** The server ends each watch after this long; a fresh one starts from the last resourceVersion. */
  watchSeconds: number;
  pageSize: number;
}

export const DEFAULT_WATCH_OPTIONS: PodWatchOptions = { resyncMs: 5 * 60_000, minBackoffMs: 250, maxBackoffMs: 30_000, watchSeconds: 300, pageSize: 500 };

export class PodWatch {
  private readonly pods = new Map<string, V1Pod>();
  private readonly listeners = new Set<(change: PodChange, pod: V1Pod) => void>();
  private readonly watch: Watch;
  private resourceVersion: string | null = null;
  private controller: AbortController | null = null;
  /** Bumped whenever a cycle is abandoned: late callbacks of an older cycle are ignored. */
  private generation = 0;
  private backoffMs: number;
  private retryTimer: NodeJS.Timeout | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private synced: Promise<void>;
  private markSynced!: () => void;
  private status: WatchHealth = { state: 'listing', since: Date.now(), lastError: null, restarts: 0 };
  lastEventAt = 0;

  constructor(
    kc: KubeConfig,
    private readonly api: CoreV1Api,
    private readonly namespace: string,
    private readonly labelSelector: string,
    private readonly logger: Logger,
    private readonly options: PodWatchOptions = DEFAULT_WATCH_OPTIONS,
  ) {
    this.watch = new Watch(kc);
    this.backoffMs = options.minBackoffMs;
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
  }

  start(): void {
    if (this.status.state === 'closed' || this.resyncTimer) return;
    this.resyncTimer = setInterval(() => this.relist('periodic resync'), this.options.resyncMs);
    this.resyncTimer.unref();
    void this.list();
  }

  health(): WatchHealth {
    return { ...this.status };
  }

  /** Resolves once a first list has succeeded (or at once if it has). */
  whenSynced(): Promise<void> {
    return this.synced;
  }

  isSynced(): boolean {
    return this.resourceVersion !== null;
  }

  get(podName: string): V1Pod | undefined {
    return this.pods.get(podName);
  }

  all(): V1Pod[] {
    return [...this.pods.values()];
  }

  onChange(listener: (change: PodChange, pod: V1Pod) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Abandons the current watch and lists again: after a 410, on resync, or when a spawn heard nothing for a while. */
  relist(why: string): void {
    if (this.status.state === 'closed') return;
    this.logger.debug({ why }, 'kubernetes: re-listing pods');
    this.abandon();
    void this.list();
  }

  close(): void {
    this.abandon();
    this.setState('closed');
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = null;
  }

  private abandon(): void {
    this.generation += 1;
    this.controller?.abort();
    this.controller = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private setState(state: WatchState, error: string | null = this.status.lastError): void {
    if (this.status.state === 'closed') return;
    if (state !== this.status.state) this.status = { ...this.status, state, since: Date.now() };
    this.status.lastError = error;
  }

  private async list(): Promise<void> {
    const generation = this.generation;
    this.setState(this.status.state === 'failing' ? 'failing' : 'listing');
    try {
      const seen = new Map<string, V1Pod>();
      let next: string | undefined;
      let resourceVersion = '';
      do {
        const page = await this.api.listNamespacedPod({ namespace: this.namespace, labelSelector: this.labelSelector, limit: this.options.pageSize, _continue: next });
        for (const pod of page.items) if (pod.metadata?.name) seen.set(pod.metadata.name, pod);
        next = page.metadata?._continue || undefined;
        resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      } while (next);
      if (generation !== this.generation) return;
      this.replaceAll(seen);
      this.resourceVersion = resourceVersion;
      this.backoffMs = this.options.minBackoffMs;
      this.lastEventAt = Date.now();
      this.markSynced();
      await this.watchFrom(generation);
    } catch (err) {
      if (generation !== this.generation) return;
      // A continue token that expired mid-list: start the list over at once.
      if (apiStatus(err) === 410) return void this.list();
      this.fail(generation, `list pods: ${apiMessage(err)}`);
    }
  }

  private async watchFrom(generation: number): Promise<void> {
    const path = `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods`;
    let expired = false;
    const controller = await this.watch.watch(
      path,
      { labelSelector: this.labelSelector, resourceVersion: this.resourceVersion ?? undefined, allowWatchBookmarks: true, timeoutSeconds: this.options.watchSeconds },
      (type: string, object: V1Pod & { code?: number; message?: string }) => {
        if (generation !== this.generation) return;
        this.lastEventAt = Date.now();
        if (type === 'ERROR') {
          expired = object.code === 410;
          if (!expired) this.logger.warn({ error: object.message }, 'kubernetes: the pod watch reported an error');
          return;
        }
        const rv = object.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (type === 'BOOKMARK') return;
        const name = object.metadata?.name;
        if (!name) return;
        if (type === 'DELETED') this.pods.delete(name);
        else this.pods.set(name, object);
        this.emit(type as PodChange, object);
      },
      (err: unknown) => {
        if (generation !== this.generation) return;
        this.controller = null;
        if (expired) return void this.list();
        if (err && !(err instanceof Error && err.name === 'AbortError')) return this.fail(generation, `watch pods: ${apiMessage(err)}`);
        // The server ended the watch (its timeout, a restart): go on from where it stopped.
        void this.watchFrom(generation);
      },
    );
    if (generation !== this.generation) return void controller.abort();
    this.controller = controller;
    this.setState('watching', null);
  }

  private fail(generation: number, error: string): void {
    if (generation !== this.generation) return;
    this.generation += 1;
    if (this.status.state !== 'failing') this.logger.warn({ error, retryInMs: this.backoffMs }, 'kubernetes: pod watch failed; retrying with back-off');
    this.setState('failing', error);
    this.status.restarts += 1;
    const delay = this.backoffMs * (0.8 + Math.random() * 0.4);
    this.backoffMs = Math.min(this.options.maxBackoffMs, this.backoffMs * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.list();
    }, delay);
    this.retryTimer.unref();
  }

  /** After a list: every pod that appeared, changed or went since the last view is reported, as a watch would have. */
  private replaceAll(seen: Map<string, V1Pod>): void {
    const before = new Map(this.pods);
    this.pods.clear();
    for (const [name, pod] of seen) this.pods.set(name, pod);
    for (const [name, pod] of seen) {
      const old = before.get(name);
      if (!old) this.emit('ADDED', pod);
      else if (old.metadata?.resourceVersion !== pod.metadata?.resourceVersion) this.emit('MODIFIED', pod);
    }
    for (const [name, pod] of before) if (!seen.has(name)) this.emit('DELETED', pod);
  }

  private emit(change: PodChange, pod: V1Pod): void {
    for (const listener of this.listeners) {
      try {
        listener(change, pod);
      } catch (err) {
        this.logger.error({ err }, 'kubernetes: a pod change listener failed');
      }
    }
  }
}

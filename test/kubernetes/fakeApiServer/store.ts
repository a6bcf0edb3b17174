import { randomUUID } from 'node:crypto';

/*
 * The fake API server's object store: one resourceVersion counter for every
 * kind, as etcd's revision is for the real one, and a bounded history of
 * changes that watches replay from. A watch or a continue token older than
 * the history gets 410 Gone, as after etcd compaction.
 */

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    generateName?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
};

export type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  type: WatchType;
  resource: string;
  object: KubeObject;
  rv: number;
}

type Listener = (change: Change) => void;

export class Expired extends Error {
  constructor(readonly rv: number, readonly oldest: number) {
    super(`too old resource version: ${rv} (${oldest})`);
  }
}

const HISTORY = 1000;

export function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export class Store {
  private rv = 100;
  /** The oldest revision a watch may start after; raised by compact(). */
  private compactedTo = 100;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: Change[] = [];
  private readonly listeners = new Set<Listener>();

  get revision(): number {
    return this.rv;
  }

  private kind(resource: string): Map<string, KubeObject> {
    let map = this.objects.get(resource);
    if (!map) this.objects.set(resource, (map = new Map()));
    return map;
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.kind(resource).get(key(namespace, name));
    return found && structuredClone(found);
  }

  /** Sorted by namespace and name, as the real server lists them, so a continue token can say where it stopped. */
  list(resource: string, namespace: string | undefined): KubeObject[] {
    return [...this.kind(resource).entries()]
      .filter(([, o]) => namespace === undefined || o.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => structuredClone(o));
  }

  create(resource: string, object: KubeObject): KubeObject {
    const map = this.kind(resource);
    const k = key(object.metadata.namespace, object.metadata.name);
    if (map.has(k)) throw new Error('exists');
    object.metadata.uid = randomUUID();
    object.metadata.creationTimestamp = now();
    return this.commit('ADDED', resource, object);
  }

  /** Replaces the stored object; `mutate` sees a copy and may change it. */
  update(resource: string, namespace: string | undefined, name: string, mutate: (o: KubeObject) => void): KubeObject | undefined {
    const current = this.get(resource, namespace, name);
    if (!current) return undefined;
    mutate(current);
    return this.commit('MODIFIED', resource, current);
  }

  /** Also removes, at once, what the object owns (metadata.ownerReferences), as the garbage collector does in the background. */
  remove(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const current = this.get(resource, namespace, name);
    if (!current) return undefined;
    const removed = this.commit('DELETED', resource, current);
    for (const [kind, map] of this.objects) {
      for (const o of [...map.values()]) {
        const owners = (o.metadata.ownerReferences ?? []) as Array<{ uid?: string }>;
        if (o.metadata.namespace === namespace && owners.some((owner) => owner.uid === current.metadata.uid)) this.remove(kind, namespace, o.metadata.name);
      }
    }
    return removed;
  }

  /** Changes after `rv`, or Expired when the history no longer reaches back that far. */
  since(rv: number): Change[] {
    if (rv < this.compactedTo) throw new Expired(rv, this.compactedTo);
    return this.history.filter((c) => c.rv > rv).map((c) => ({ ...c, object: structuredClone(c.object) }));
  }

  /** Forgets the history up to now, as etcd compaction does: older watches and continue tokens get 410. */
  compact(): void {
    this.compactedTo = this.rv;
    this.history.length = 0;
  }

  assertFresh(rv: number): void {
    if (rv < this.compactedTo) throw new Expired(rv, this.compactedTo);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private commit(type: WatchType, resource: string, object: KubeObject): KubeObject {
    this.rv += 1;
    object.metadata.resourceVersion = String(this.rv);
    const map = this.kind(resource);
    const k = key(object.metadata.namespace, object.metadata.name);
    if (type === 'DELETED') map.delete(k);
    else map.set(k, structuredClone(object));
    const change: Change = { type, resource, object: structuredClone(object), rv: this.rv };
    this.history.push(change);
    if (this.history.length > HISTORY) {
      this.compactedTo = (this.history.shift() as Change).rv;
    }
    for (const listener of this.listeners) listener(change);
    return structuredClone(object);
  }
}

function key(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { fieldMatcher, labelMatcher, SelectorError } from './selectors.js';
import { findResource, groupList, groupVersion, openApiGroup, openApiRoot, resourceList, type Resource } from './resources.js';
import { Expired, now, Store, type Change, type KubeObject } from './store.js';

/*
 * The HTTP side of the fake API server: discovery, CRUD, list with limit and
 * continue, watch as a chunked stream of JSON lines with resourceVersions,
 * bookmarks and 410 Gone, Status objects for errors, bearer-token auth. Pod
 * behaviour (scheduling, containers, subresources) is the Kubelet's, which
 * registers through `hooks`.
 */

export interface Hooks {
  podCreated(pod: KubeObject): void;
  podDeleting(pod: KubeObject, graceSeconds: number): void;
  /** exec, attach, portforward (WebSocket upgrades) and log. */
  subresource(kind: 'exec' | 'attach' | 'portforward', namespace: string, name: string, req: IncomingMessage, socket: Duplex, head: Buffer): void;
  log(namespace: string, name: string, query: URLSearchParams, res: ServerResponse): void;
}

export interface ApiOptions {
  token: string;
  /** How often open watches that asked for bookmarks get one. */
  bookmarkMs: number;
  /** "verb resource[/subresource]" pairs a SelfSubjectAccessReview answers no to. */
  denied: Set<string>;
  /** PEM: clients (kubectl among them) send bearer tokens only over TLS. */
  tls: { cert: string; key: string };
}

export class ApiServer {
  readonly store = new Store();
  private readonly http: Server;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<ServerResponse>();
  private port = 0;
  hooks: Hooks | null = null;

  constructor(private readonly options: ApiOptions) {
    this.http = createServer(options.tls, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) status(res, 500, 'InternalError', String(err));
        else res.destroy();
      });
    });
    this.http.on('secureConnection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.http.on('upgrade', (req, socket, head) => {
      socket.on('error', () => undefined);
      const url = new URL(req.url ?? '/', 'http://fake');
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach|portforward)$/.exec(url.pathname);
      if (!this.authorized(req) || !m || !this.hooks) {
        socket.end(`HTTP/1.1 ${m ? 401 : 404} ${m ? 'Unauthorized' : 'Not Found'}\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      if (this.options.denied.has(`create pods/${m[3]}`)) return void socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n`);
      this.hooks.subresource(m[3] as 'exec', m[1] as string, m[2] as string, req, socket, head);
    });
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, '127.0.0.1', () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    this.port = (this.http.address() as AddressInfo).port;
    return this.port;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Ends every open watch abruptly, as a load balancer or an API server restart does. */
  dropWatches(): void {
    for (const res of this.watches) res.socket?.destroy();
    this.watches.clear();
  }

  /** Stops answering at all (connections refused) until up(); the store is kept, as etcd keeps it. */
  async down(): Promise<void> {
    const closed = new Promise((resolve) => this.http.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    this.watches.clear();
    await closed;
  }

  async up(): Promise<void> {
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    if (this.http.listening) await this.down();
  }

  private authorized(req: IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.options.token}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/healthz' || path === '/readyz' || path === '/livez') return void res.end('ok');
    if (!this.authorized(req)) return status(res, 401, 'Unauthorized', 'Unauthorized');
    if (path === '/version') return json(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0-fake', platform: 'linux/amd64' });
    if (path === '/api') return json(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.port}` }] });
    if (path === '/apis') return json(res, 200, groupList());
    if (path === '/openapi/v3') return json(res, 200, openApiRoot());
    const openApi = /^\/openapi\/v3\/(?:api\/v1|apis\/(networking\.k8s\.io|authorization\.k8s\.io)\/v1)$/.exec(path);
    if (openApi) return json(res, 200, openApiGroup((openApi[1] ?? '') as Resource['group']));
    if (path === '/api/v1') return json(res, 200, resourceList(''));
    const groupDoc = /^\/apis\/(networking\.k8s\.io|authorization\.k8s\.io)\/v1$/.exec(path);
    if (groupDoc) return json(res, 200, resourceList(groupDoc[1] as Resource['group']));
    const m = /^\/(?:api\/v1|apis\/([^/]+)\/v1)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
    if (!m) return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const [, group = '', namespace, plural, name, sub] = m as unknown as [string, string | undefined, string | undefined, string, string | undefined, string | undefined];
    const resource = findResource(group, plural);
    if (!resource) return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    if (resource.namespaced && namespace !== undefined && !this.store.get('namespaces', undefined, namespace) && req.method !== 'GET') {
      return status(res, 404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
    }
    if (sub === 'log' && this.options.denied.has('get pods/log')) return status(res, 403, 'Forbidden', 'pods "log" is forbidden');
    if (sub === 'log' && resource.name === 'pods' && name && namespace) {
      if (!this.store.get('pods', namespace, name)) return notFound(res, resource, name);
      return this.hooks?.log(namespace, name, url.searchParams, res);
    }
    if (sub !== undefined && sub !== 'status') return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const ns = resource.namespaced ? namespace : undefined;
    const verb = verbOf(req.method ?? 'GET', name !== undefined, isTrue(url.searchParams.get('watch')));
    if (this.options.denied.has(`${verb} ${resource.name}${sub && sub !== 'status' ? `/${sub}` : ''}`)) {
      return status(res, 403, 'Forbidden', `${resource.name} is forbidden: User "fake" cannot ${verb} resource "${resource.name}" in API group "${resource.group}" in the namespace "${namespace}"`);
    }
    switch (req.method) {
      case 'GET':
        if (name) {
          const found = this.store.get(resource.name, ns, name);
          return found ? json(res, 200, found) : notFound(res, resource, name);
        }
        return isTrue(url.searchParams.get('watch')) ? this.watch(resource, ns, url.searchParams, res) : this.list(resource, ns, url.searchParams, res);
      case 'POST':
        return this.create(resource, ns, await body(req), url.searchParams, res);
      case 'PUT':
      case 'PATCH': {
        if (!name) return status(res, 405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        const patch = (await body(req)) as KubeObject;
        const updated = this.store.update(resource.name, ns, name, (o) => {
          if (req.method === 'PUT') {
            for (const k of Object.keys(o)) if (k !== 'metadata' && k !== 'status') delete o[k];
            Object.assign(o, { ...patch, metadata: { ...o.metadata, labels: patch.metadata?.labels, annotations: patch.metadata?.annotations, ownerReferences: patch.metadata?.ownerReferences }, status: o.status });
          } else {
            mergePatch(o, patch);
          }
        });
        return updated ? json(res, 200, updated) : notFound(res, resource, name);
      }
      case 'DELETE': {
        const input = await body(req);
        if (name) return this.delete(resource, ns, name, input, url.searchParams, res);
        let labels;
        try {
          labels = labelMatcher(url.searchParams.get('labelSelector'));
        } catch (err) {
          return status(res, 400, 'BadRequest', (err as SelectorError).message);
        }
        const doomed = this.store.list(resource.name, ns).filter((o) => labels(o.metadata.labels ?? {}));
        for (const o of doomed) this.delete(resource, o.metadata.namespace, o.metadata.name, input, url.searchParams, null);
        return json(res, 200, { kind: `${resource.kind}List`, apiVersion: groupVersion(resource.group), metadata: {}, items: doomed });
      }
      default:
        return status(res, 405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  private list(resource: Resource, ns: string | undefined, query: URLSearchParams, res: ServerResponse): void {
    const selected = selectorsOf(query);
    if (selected instanceof SelectorError) return status(res, 400, 'BadRequest', selected.message);
    let items = this.store.list(resource.name, ns).filter(selected);
    let listRv = this.store.revision;
    const token = query.get('continue');
    if (token) {
      const parsed = decodeContinue(token);
      if (!parsed) return status(res, 400, 'BadRequest', 'continue key is not valid');
      try {
        this.store.assertFresh(parsed.rv);
      } catch (err) {
        return status(res, 410, 'Expired', `The provided continue parameter is too old to display a consistent list result. ${(err as Error).message}`);
      }
      listRv = parsed.rv;
      items = items.filter((o) => itemKey(o) > parsed.after);
    }
    const limit = Number(query.get('limit') ?? 0);
    let next: string | undefined;
    if (limit > 0 && items.length > limit) {
      items = items.slice(0, limit);
      next = encodeContinue(listRv, itemKey(items[items.length - 1] as KubeObject));
    }
    const apiVersion = groupVersion(resource.group);
    json(res, 200, {
      kind: `${resource.kind}List`,
      apiVersion,
      metadata: { resourceVersion: String(listRv), ...(next ? { continue: next, remainingItemCount: undefined } : {}) },
      items: items.map((o) => ({ apiVersion, kind: resource.kind, ...o })),
    });
  }

  private watch(resource: Resource, ns: string | undefined, query: URLSearchParams, res: ServerResponse): void {
    const selected = selectorsOf(query);
    if (selected instanceof SelectorError) return status(res, 400, 'BadRequest', selected.message);
    const apiVersion = groupVersion(resource.group);
    const matches = (o: KubeObject) => (ns === undefined || o.metadata.namespace === ns) && selected(o);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    const send = (type: string, object: object) => res.write(`${JSON.stringify({ type, object })}\n`);
    const rvParam = query.get('resourceVersion');
    const pending: Change[] = [];
    let replaying = true;
    const unsubscribe = this.store.subscribe((change) => {
      if (change.resource !== resource.name) return;
      if (replaying) pending.push(change);
      else if (matches(change.object)) send(change.type, { apiVersion, kind: resource.kind, ...change.object });
    });
    this.watches.add(res);
    const bookmarks = isTrue(query.get('allowWatchBookmarks'))
      ? setInterval(() => send('BOOKMARK', { apiVersion, kind: resource.kind, metadata: { resourceVersion: String(this.store.revision) } }), this.options.bookmarkMs)
      : null;
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : null;
    const stop = () => {
      unsubscribe();
      if (bookmarks) clearInterval(bookmarks);
      if (timer) clearTimeout(timer);
      this.watches.delete(res);
    };
    res.on('close', stop);
    // Without a resourceVersion (or "0"), a watch starts with the current state as ADDED events.
    if (!rvParam || rvParam === '0') {
      for (const o of this.store.list(resource.name, ns)) if (matches(o)) send('ADDED', { apiVersion, kind: resource.kind, ...o });
    } else {
      let changes: Change[];
      try {
        changes = this.store.since(Number(rvParam));
      } catch (err) {
        if (!(err instanceof Expired)) throw err;
        send('ERROR', statusBody(410, 'Expired', err.message));
        stop();
        return void res.end();
      }
      for (const c of changes) if (c.resource === resource.name && matches(c.object)) send(c.type, { apiVersion, kind: resource.kind, ...c.object });
    }
    replaying = false;
    for (const c of pending.splice(0)) if (matches(c.object)) send(c.type, { apiVersion, kind: resource.kind, ...c.object });
  }

  private create(resource: Resource, ns: string | undefined, input: unknown, query: URLSearchParams, res: ServerResponse): void {
    const object = input as KubeObject;
    if (resource.name === 'selfsubjectaccessreviews') {
      const attrs = ((object.spec as Record<string, unknown>)?.resourceAttributes ?? {}) as Record<string, string>;
      const what = `${attrs.verb} ${attrs.resource}${attrs.subresource ? `/${attrs.subresource}` : ''}`;
      const allowed = !this.options.denied.has(what);
      return json(res, 201, { ...object, apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', status: { allowed, ...(allowed ? {} : { reason: 'denied by the fake API server' }) } });
    }
    if (!object?.metadata || (typeof object.metadata.name !== 'string' && typeof object.metadata.generateName !== 'string')) {
      return status(res, 422, 'Invalid', `${resource.kind} is invalid: metadata.name: Required value: name or generateName is required`);
    }
    if (!object.metadata.name) object.metadata.name = `${object.metadata.generateName}${Math.random().toString(36).slice(2, 7)}`;
    if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(object.metadata.name)) {
      return status(res, 422, 'Invalid', `${resource.kind} "${object.metadata.name}" is invalid: metadata.name: Invalid value: must be a lowercase RFC 1123 subdomain`);
    }
    if (ns !== undefined) object.metadata.namespace = ns;
    if (resource.name === 'pods') {
      const p = object as KubeObject & { spec: { containers?: unknown[] } };
      if (!Array.isArray(p.spec?.containers) || p.spec.containers.length === 0) return status(res, 422, 'Invalid', `Pod "${object.metadata.name}" is invalid: spec.containers: Required value`);
      object.status = { phase: 'Pending', qosClass: 'BestEffort' };
    }
    if (resource.name === 'persistentvolumeclaims') {
      const spec = object.spec as { storageClassName?: string } | undefined;
      // "fake-pending" stands for a storage class that never provisions: the claim stays Pending.
      object.status = spec?.storageClassName === 'fake-pending' ? { phase: 'Pending' } : { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '10Gi' } };
    }
    if (resource.name === 'events') {
      object.firstTimestamp ??= now();
      object.lastTimestamp ??= now();
    }
    if (query.get('dryRun') === 'All') return json(res, 201, { apiVersion: groupVersion(resource.group), kind: resource.kind, ...object });
    let created: KubeObject;
    try {
      created = this.store.create(resource.name, object);
    } catch {
      return status(res, 409, 'AlreadyExists', `${resource.name} "${object.metadata.name}" already exists`, { name: object.metadata.name, kind: resource.name });
    }
    if (resource.name === 'pods') this.hooks?.podCreated(created);
    json(res, 201, { apiVersion: groupVersion(resource.group), kind: resource.kind, ...created });
  }

  /** Deletes one object; `res` null when it is part of a collection delete that answers for all. */
  private delete(resource: Resource, ns: string | undefined, name: string, input: unknown, query: URLSearchParams, res: ServerResponse | null): void {
    const reply = (code: number, value: unknown) => res && json(res, code, value);
    const found = this.store.get(resource.name, ns, name);
    if (!found) return void (res && notFound(res, resource, name));
    const options = (input ?? {}) as { gracePeriodSeconds?: number };
    if (resource.name === 'pods') {
      const spec = found.spec as { terminationGracePeriodSeconds?: number };
      const grace = Number(query.get('gracePeriodSeconds') ?? options.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30);
      if (found.metadata.deletionTimestamp) return void reply(200, { apiVersion: 'v1', kind: 'Pod', ...found });
      const marked = this.store.update('pods', ns, name, (o) => {
        o.metadata.deletionTimestamp = now();
        o.metadata.deletionGracePeriodSeconds = grace;
      }) as KubeObject;
      this.hooks?.podDeleting(marked, grace);
      return void reply(200, { apiVersion: 'v1', kind: 'Pod', ...marked });
    }
    const removed = this.store.remove(resource.name, ns, name) as KubeObject;
    reply(200, { apiVersion: groupVersion(resource.group), kind: resource.kind, ...removed });
  }
}

/** The RBAC verb of a request, as the API server's authorizer names it. */
function verbOf(method: string, named: boolean, watch: boolean): string {
  if (method === 'GET') return watch ? 'watch' : named ? 'get' : 'list';
  return ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: named ? 'delete' : 'deletecollection' } as Record<string, string>)[method] ?? method.toLowerCase();
}

function isTrue(v: string | null): boolean {
  return v === 'true' || v === '1';
}

function itemKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

function encodeContinue(rv: number, after: string): string {
  return Buffer.from(JSON.stringify({ rv, after })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; after: string } | null {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString()) as { rv: unknown; after: unknown };
    return typeof v.rv === 'number' && typeof v.after === 'string' ? { rv: v.rv, after: v.after } : null;
  } catch {
    return null;
  }
}

/** RFC 7386 JSON merge patch, which also serves strategic merge patches of the fields kubectl apply changes here. */
function mergePatch(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) delete target[k];
    else if (typeof v === 'object' && !Array.isArray(v) && typeof target[k] === 'object' && target[k] !== null && !Array.isArray(target[k])) {
      mergePatch(target[k] as Record<string, unknown>, v as Record<string, unknown>);
    } else target[k] = v;
  }
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

export function json(res: ServerResponse, code: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function statusBody(code: number, reason: string, message: string, details?: object): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

function status(res: ServerResponse, code: number, reason: string, message: string, details?: object): void {
  json(res, code, statusBody(code, reason, message, details));
}

function notFound(res: ServerResponse, resource: Resource, name: string): void {
  status(res, 404, 'NotFound', `${resource.name} "${name}" not found`, { name, kind: resource.name });
}

/** A list's or watch's label and field selectors as one test of an object, or why they cannot be read. */
function selectorsOf(query: URLSearchParams): ((o: KubeObject) => boolean) | SelectorError {
  try {
    const labels = labelMatcher(query.get('labelSelector'));
    const fields = fieldMatcher(query.get('fieldSelector'));
    return (o) => labels(o.metadata.labels ?? {}) && fields(o);
  } catch (err) {
    if (err instanceof SelectorError) return err;
    throw err;
  }
}

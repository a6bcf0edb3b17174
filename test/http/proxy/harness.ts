import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDemoServer } from '../../../src/demo/server.js';
import { createProxy, type PoolOptions, type Proxy, type UpgradeOptions } from '../../../src/http/proxy/index.js';
import type { HostPort } from '../../../src/core/net.js';
import { connectTcp } from '../../../src/runtime/connectTcp.js';
import type { BerthPort } from '../../../src/runtime/types.js';

/** Real servers on loopback for the proxy tests: a berth, a gateway in front of it, and a client. */

export async function listen(server: Server): Promise<HostPort> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  return { host: '127.0.0.1', port: address.port };
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface Gateway {
  endpoint: HostPort;
  proxy: Proxy;
  close(): Promise<void>;
}

/**
 * A node:http server sending everything through a fresh proxy to `target`, with `options` per request.
 * The proxy's connect dials `target` the way a runtime's connect would.
 */
export async function startGateway(target: HostPort, options: UpgradeOptions = { scheme: 'http' }, pool: Partial<PoolOptions> = {}): Promise<Gateway> {
  const proxy = createProxy((berth) => connectTcp(berth.name, target.host, berth.port), pool);
  const berth: BerthPort = { name: 'test-berth', port: target.port };
  const server = createServer((req, res) => proxy.web(req, res, berth, options));
  server.on('upgrade', (req, socket, head) => proxy.upgrade(req, socket, head, berth, options));
  const endpoint = await listen(server);
  return {
    endpoint,
    proxy,
    async close() {
      proxy.close();
      await closeServer(server);
    },
  };
}

export interface Berth {
  endpoint: HostPort;
  home: string;
  close(): Promise<void>;
}

/** The demo app as the berth, with a throw-away home. */
export async function startDemoBerth(user = 'alice'): Promise<Berth> {
  const home = mkdtempSync(join(tmpdir(), 'berth-proxy-test-'));
  const demo = createDemoServer({ user, home, port: 0 });
  const endpoint = await listen(demo.server);
  return {
    endpoint,
    home,
    async close() {
      await demo.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** A berth whose behaviour the test writes itself. */
export async function startBerth(handler: RequestListener): Promise<{ endpoint: HostPort; server: Server; close(): Promise<void> }> {
  const server = createServer(handler);
  const endpoint = await listen(server);
  return { endpoint, server, close: () => closeServer(server) };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** One request on a connection of its own (no pooling on the client side, so tests see one exchange each). */
export function fetchText(
  endpoint: HostPort,
  path: string,
  init: { method?: string; headers?: Record<string, string | string[]>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ ...endpoint, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, rawHeaders: res.rawHeaders, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Sends bytes exactly as written (for heads Node's client would not produce) and returns all that comes back until close. */
export function rawExchange(endpoint: HostPort, text: string, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(endpoint.port, endpoint.host);
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got: ${received}`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(text);
  });
}

/** Resolves when `check` holds, polling every 10 ms; rejects after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 3_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

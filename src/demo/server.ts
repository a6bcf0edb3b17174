import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';

/**
 * The built-in demo app: the default berth on the local runtime, and a
 * backend for tests and benchmarks. Its page shows what makes a berth a berth
 * (whose it is, its home, a counter kept in that home); the plain endpoints
 * let tests see exactly what reached the berth.
 */
export interface DemoEnv {
  user: string;
  home: string;
  port: number;
}

const COUNTER_FILE = 'berth-demo-visits.txt';
const LISTED_FILES_MAX = 200;
/** One chunk reused for /bytes, so a large download allocates nothing per write. */
const FILLER = Buffer.alloc(64 * 1024, 'berth ');
const BYTES_MAX = 2 ** 40;

export interface DemoServer {
  server: Server;
  /** Closes the listener and every connection, WebSockets with 1001 "going away" (cut after a second). */
  stop(): Promise<void>;
}

export function createDemoServer(env: DemoEnv): DemoServer {
  const hello = Buffer.from(`Hello from ${env.user}'s berth.\n`);
  const helloHeaders = ['content-type', 'text/plain; charset=utf-8', 'content-length', String(hello.length)];
  const counter = new VisitCounter(join(env.home, COUNTER_FILE));

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (path === '/hello') {
      res.writeHead(200, helloHeaders);
      res.end(hello);
    } else if (path === '/healthz') {
      sendText(res, 200, 'ok');
    } else if (path === '/env') {
      sendJson(res, { user: env.user, home: env.home, port: env.port, headers: req.headers });
    } else if (path === '/echo' && req.method === 'POST') {
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
      req.pipe(res);
    } else if (path === '/bytes') {
      sendBytes(res, new URLSearchParams(query === -1 ? '' : url.slice(query + 1)).get('n'));
    } else if (path === '/') {
      sendPage(res, env, counter.visit());
    } else {
      sendText(res, 404, 'not found');
    }
  });

  const sockets = new WebSocketServer({ noServer: true });
  sockets.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    if (req.url !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => sockets.emit('connection', ws, req));
  });
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      for (const ws of sockets.clients) ws.close(1001, 'berth stopping');
      // Clients that do not answer the close handshake are cut after a moment.
      setTimeout(() => {
        for (const ws of sockets.clients) ws.terminate();
      }, 1_000).unref();
      sockets.close();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return { server, stop };
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Streams `n` bytes, writing only as fast as the client reads. */
function sendBytes(res: ServerResponse, n: string | null): void {
  const total = Number(n);
  if (n === null || !Number.isSafeInteger(total) || total < 0 || total > BYTES_MAX) {
    sendText(res, 400, `n must be a whole number of bytes up to ${BYTES_MAX}`);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      const chunk = left >= FILLER.length ? FILLER : FILLER.subarray(0, left);
      left -= chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => {
    left = 0;
  });
  pump();
}

/** Page views, kept in a file in the home so a restarted berth shows the count going on. */
class VisitCounter {
  private count: number;

  constructor(private readonly file: string) {
    this.count = readCount(file);
  }

  visit(): { count: number; saved: boolean } {
    this.count += 1;
    try {
      // Write then rename, so a berth killed mid-write leaves the old count, not an empty file.
      writeFileSync(`${this.file}.tmp`, `${this.count}\n`);
      renameSync(`${this.file}.tmp`, this.file);
      return { count: this.count, saved: true };
    } catch {
      return { count: this.count, saved: false };
    }
  }
}

function readCount(file: string): number {
  try {
    const count = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isSafeInteger(count) && count >= 0 ? count : 0;
  } catch {
    return 0;
  }
}

function listHome(home: string): string[] {
  try {
    return readdirSync(home, { withFileTypes: true })
      .map((entry) => (entry.isDirectory() ? `${entry.name}/` : entry.name))
      .sort()
      .slice(0, LISTED_FILES_MAX);
  } catch {
    return [];
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sendPage(res: ServerResponse, env: DemoEnv, visits: { count: number; saved: boolean }): void {
  const files = listHome(env.home);
  const uptime = Math.round(process.uptime());
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(env.user)}'s berth</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
h1{font-size:1.6rem}code{background:#eef1f6;padding:.1rem .3rem;border-radius:4px}
.card{border:1px solid #d8dde6;border-radius:8px;padding:1rem 1.25rem;margin:1rem 0}
ul{padding-left:1.25rem}.muted{color:#5b6475}
</style></head><body>
<h1>Welcome aboard, ${escapeHtml(env.user)}</h1>
<p>This is your berth: your own environment, started for you by Berth. Replace this demo with your own app by setting <code>environment.command</code>.</p>
<div class="card">
<p>User: <code>${escapeHtml(env.user)}</code><br>Home: <code>${escapeHtml(env.home)}</code><br>Up for ${uptime} s</p>
<p>You have opened this page <strong>${visits.count}</strong> time${visits.count === 1 ? '' : 's'}${
    visits.saved ? `. The count lives in <code>~/${COUNTER_FILE}</code>, so it survives a restart of your berth.` : ' (the home is not writable, so the count is not kept).'
  }</p>
</div>
<div class="card"><p>Files in your home:</p>${
    files.length === 0 ? '<p class="muted">(none)</p>' : `<ul>${files.map((f) => `<li><code>${escapeHtml(f)}</code></li>`).join('')}</ul>`
  }</div>
<div class="card"><p>WebSocket echo: <span id="ws" class="muted">connecting…</span></p></div>
<script>
const out = document.getElementById('ws');
const url = new URL('/ws', location.href);
url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
const ws = new WebSocket(url);
ws.onopen = () => ws.send('hello at ' + new Date().toLocaleTimeString());
ws.onmessage = (e) => { out.textContent = 'echoed "' + e.data + '"'; };
ws.onerror = () => { out.textContent = 'not connected'; };
</script>
</body></html>
`;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store' });
  res.end(html);
}

import { connect, type Socket } from 'node:net';

/**
 * A fixed-rate HTTP/1.1 load client, run as a process of its own: RATE
 * requests per second spread evenly (not in bursts, as autocannon's rate
 * limit sends them) over CONNECTIONS keep-alive connections to URL, for
 * SECONDS, then prints {"p50Ms","p90Ms","p99Ms","maxMs","requests","errors"}
 * as JSON. Latency counts from when the schedule released a request, not
 * when a connection was free to send it, so a server that falls behind is
 * charged for the queue it causes (coordinated omission). The schedule ticks
 * on timers, not a busy loop, so the client leaves the cores to the servers. HEADERS is a JSON object sent on every request.
 * Bounded: it stops sending after SECONDS and gives up 5 s later.
 */
const url = new URL(process.env.URL ?? '');
const rate = Number(process.env.RATE ?? 1000);
const seconds = Number(process.env.SECONDS ?? 10);
const connections = Number(process.env.CONNECTIONS ?? 10);
const headers = JSON.parse(process.env.HEADERS ?? '{}') as Record<string, string>;

const head = Buffer.from(
  `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`,
);

interface Conn {
  socket: Socket;
  /** When the request in flight was released (ms, performance.now()), or null when idle. */
  due: number | null;
  buffer: Buffer;
}

const latencies: number[] = [];
let failed = 0;
const idle: Conn[] = [];
const backlog: number[] = [];

/** Consumes one whole response from the buffer if it is there (Content-Length framing, as the bench servers answer). */
function takeResponse(conn: Conn): boolean {
  const end = conn.buffer.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const headText = conn.buffer.subarray(0, end).toString('latin1');
  const match = /\r\ncontent-length:\s*(\d+)/i.exec(headText);
  const length = match ? Number(match[1]) : 0;
  if (conn.buffer.length < end + 4 + length) return false;
  if (!headText.startsWith('HTTP/1.1 2')) failed++;
  conn.buffer = conn.buffer.subarray(end + 4 + length);
  return true;
}

function send(conn: Conn, due: number): void {
  conn.due = due;
  conn.socket.write(head);
}

function open(): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 80), noDelay: true });
    const conn: Conn = { socket, due: null, buffer: Buffer.alloc(0) };
    socket.once('connect', () => resolve(conn));
    // Rejects the start; a connection lost later shows as unanswered requests.
    socket.on('error', reject);
    // A connection the server closes takes no more requests; one in flight on it shows as unanswered.
    socket.on('close', () => {
      const index = idle.indexOf(conn);
      if (index !== -1) idle.splice(index, 1);
    });
    socket.on('data', (chunk: Buffer) => {
      conn.buffer = conn.buffer.length === 0 ? chunk : Buffer.concat([conn.buffer, chunk]);
      while (conn.due !== null && takeResponse(conn)) {
        latencies.push(performance.now() - conn.due);
        conn.due = null;
        const next = backlog.shift();
        if (next !== undefined) send(conn, next);
        else idle.push(conn);
      }
    });
  });
}

const conns = await Promise.all(Array.from({ length: connections }, open));
idle.push(...conns);
const interval = 1000 / rate;
const start = performance.now();
const total = Math.round(rate * seconds);
let issued = 0;
await new Promise<void>((resolve) => {
  const tick = (): void => {
    const now = performance.now();
    while (issued < total && start + issued * interval <= now) {
      const due = now;
      issued++;
      // Round robin (oldest idle first), so no connection sits idle long enough for a server to close it.
      const conn = idle.shift();
      if (conn) send(conn, due);
      else backlog.push(due);
    }
    if (issued < total) setTimeout(tick, Math.max(0, start + issued * interval - performance.now()));
    else resolve();
  };
  tick();
});
const giveUp = performance.now() + 5000;
while (latencies.length < total && performance.now() < giveUp) await new Promise((resolve) => setTimeout(resolve, 10));
for (const conn of conns) conn.socket.destroy();

latencies.sort((a, b) => a - b);
const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
console.log(
  JSON.stringify({ p50Ms: at(0.5), p90Ms: at(0.9), p99Ms: at(0.99), maxMs: latencies.at(-1) ?? NaN, requests: latencies.length, errors: total - latencies.length + failed }),
);

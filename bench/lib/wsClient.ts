import { createInterface } from 'node:readline';
import WebSocket from 'ws';

/**
 * The WebSocket side of bench:websockets, in a process of its own (with a
 * raised descriptor limit): opens COUNT connections to URL, at most
 * IN_FLIGHT handshakes at a time, from source addresses 127.0.0.2–127.0.0.9
 * in turn so no one address runs out of ephemeral ports. It reports each
 * phase as a JSON line on stdout and waits for the next command on stdin:
 *   (start)   → {"phase":"opened","ms","failed"}
 *   "message" → {"phase":"echoed","ms","failed"}   one message on each, every echo back
 *   "close"   → closes every connection and exits
 * HEADERS is a JSON object sent with every handshake. Bounded: each phase
 * gives up after TIMEOUT_MS.
 */
const url = process.env.URL ?? '';
const count = Number(process.env.COUNT ?? 10_000);
const inFlight = Number(process.env.IN_FLIGHT ?? 200);
const timeoutMs = Number(process.env.TIMEOUT_MS ?? 120_000);
const headers = JSON.parse(process.env.HEADERS ?? '{}') as Record<string, string>;

const sockets: WebSocket[] = [];

function openOne(index: number): Promise<WebSocket | null> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, localAddress: `127.0.0.${2 + (index % 8)}`, handshakeTimeout: timeoutMs });
    ws.once('open', () => resolve(ws));
    ws.once('error', () => resolve(null));
  });
}

async function openAll(): Promise<number> {
  let next = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const ws = await openOne(next++);
      if (ws) {
        // A connection lost later shows as a missing echo, not as a crash.
        ws.on('error', () => undefined);
        sockets.push(ws);
      } else failed++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return failed;
}

async function echoAll(): Promise<number> {
  const echoes = sockets.map(
    (ws, index) =>
      new Promise<boolean>((resolve) => {
        const text = `hello ${index}`;
        const timer = setTimeout(() => resolve(false), timeoutMs);
        ws.once('message', (data) => {
          clearTimeout(timer);
          resolve(data.toString() === text);
        });
        ws.send(text);
      }),
  );
  return (await Promise.all(echoes)).filter((ok) => !ok).length;
}

function report(phase: string, started: number, failed: number): void {
  console.log(JSON.stringify({ phase, ms: performance.now() - started, failed }));
}

let started = performance.now();
report('opened', started, await openAll());
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'message') {
    started = performance.now();
    report('echoed', started, await echoAll());
  } else if (line === 'close') {
    for (const ws of sockets) ws.terminate();
    break;
  }
}
process.exit(0);

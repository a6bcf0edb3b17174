import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { httpRequest, rawExchange } from '../helpers/http.js';
import { berthServe, stopServe, type Served } from '../helpers/serve.js';

const TIMEOUT_SECONDS = 2;

/**
 * Sends a request head a few bytes at a time and never finishes it (a slow
 * loris); resolves with when the gateway answered or closed, and what it said.
 */
function slowHead(base: string, everyMs: number, bytes: (n: number) => string): Promise<{ ms: number; text: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(Number(port), hostname);
    let text = '';
    let n = 0;
    const drip = setInterval(() => socket.writable && socket.write(bytes(n++)), everyMs);
    const give = setTimeout(() => socket.destroy(), 20_000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      clearInterval(drip);
      clearTimeout(give);
      resolve({ ms: Date.now() - started, text });
    });
    socket.write('GET / HTTP/1.1\r\nHost: gw\r\n');
  });
}

describe('headers timeout: the configured value, not about twice it', () => {
  let gw: Served;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-hto-'));
    gw = await berthServe([], { BERTH_DATA_DIR: dataDir, BERTH_LISTEN_SSH: 'null', BERTH_HTTP_HEADERS_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS) });
  });
  after(async () => {
    await stopServe(gw, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  // A correctness bound, not a benchmark: between the value and the value plus 2 s.
  const within = (ms: number) => assert.ok(ms >= TIMEOUT_SECONDS * 1000 && ms <= TIMEOUT_SECONDS * 1000 + 2000, `cut after ${ms} ms`);

  it('cuts a head that trickles in header by header with 408 and a reason', async () => {
    const { ms, text } = await slowHead(gw.base, 200, (n) => `X-Drip-${n}: a\r\n`);
    within(ms);
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.match(text, /"code":"request_timeout"/);
    assert.match(text, /within 2 seconds/);
  });

  it('cuts a head that trickles one byte at a time, and one that stalls after the request line', async () => {
    const bytes = await slowHead(gw.base, 100, () => 'a');
    within(bytes.ms);
    assert.match(bytes.text, /^HTTP\/1\.1 408 /);
    const stalled = await slowHead(gw.base, 60_000, () => '');
    within(stalled.ms);
    assert.match(stalled.text, /^HTTP\/1\.1 408 /);
  });

  it('answers a head larger than 16 KiB with 431, in one header or in many', async () => {
    for (const extra of [`X-Big: ${'a'.repeat(17 * 1024)}\r\n`, Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'b'.repeat(40)}\r\n`).join('')]) {
      const reply = await rawExchange(gw.base, `GET / HTTP/1.1\r\nHost: gw\r\n${extra}\r\n`);
      assert.equal(reply.status, 431, reply.text.slice(0, 200));
      assert.match(reply.text, /"code":"headers_too_large"/);
    }
  });

  it('still answers 400 to what is not HTTP, and keeps serving afterwards', async () => {
    const reply = await rawExchange(gw.base, 'HELLO\r\n\r\n');
    assert.equal(reply.status, 400, reply.text);
    assert.equal((await httpRequest(`${gw.base}/_berth/healthz`)).status, 200);
  });
});

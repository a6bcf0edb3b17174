import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startServer, type ServerProcess } from '../../../bench/lib/processes.js';
import type { HostPort } from '../../../src/core/net.js';
import { startBerth, startDemoBerth, startGateway, type Berth } from './harness.js';

const MB = 1024 * 1024;
const TOTAL = 400 * MB;
/**
 * V8 frees Buffers' memory only in a collection, which it starts after about
 * 64 MB of them were allocated since the last: a streaming gateway's peak
 * sits near that whatever the body's size (55–60 MB here for 200 MB and for
 * 600 MB alike), one that collected the body would grow by all of it.
 */
const GROWTH_LIMIT = 96 * MB;

/**
 * Bodies are streamed, never collected: 400 MB up and down through a gateway
 * in a process of its own raises its peak memory by far less than the body,
 * and a berth sending faster than the client reads is held back rather than
 * buffered. The peak is the kernel's high-water mark (VmHWM), reset before the
 * transfer, so a buffer that was filled and freed between two samples counts.
 */
describe('streaming', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  let berth: Berth;
  let gateway: ServerProcess;
  let endpoint: HostPort;

  before(async () => {
    berth = await startDemoBerth();
    gateway = await startServer('bench/lib/fixedGateway.ts', { TARGET: `${berth.endpoint.host}:${berth.endpoint.port}` });
    endpoint = { host: '127.0.0.1', port: gateway.port };
    // Warm the paths up so start-up allocation is not counted as growth.
    await transfer(endpoint, 'POST', '/echo', MB);
    await transfer(endpoint, 'GET', `/bytes?n=${MB}`, 0);
  });
  after(async () => {
    await gateway?.stop();
    await berth?.close();
  });

  it(`moves ${TOTAL / MB} MB up and down with under ${GROWTH_LIMIT / MB} MB of growth`, async () => {
    resetPeak(gateway.pid);
    const before = memory(gateway.pid).rss;
    // The demo echoes as it reads, so the body crosses the gateway both ways at once.
    const echoed = await transfer(endpoint, 'POST', '/echo', TOTAL);
    const peak = memory(gateway.pid).peak;
    assert.equal(echoed, TOTAL);
    const growth = peak - before;
    assert.ok(growth < GROWTH_LIMIT, `gateway RSS grew by ${(growth / MB).toFixed(1)} MB (from ${(before / MB).toFixed(1)} MB)`);
  });

  it('holds a fast berth back while the client is not reading', async () => {
    let sent = 0;
    const total = 96 * MB;
    const chunk = Buffer.alloc(64 * 1024);
    const fast = await startBerth((_req, res) => {
      res.writeHead(200, { 'content-length': total });
      const pump = (): void => {
        while (sent < total) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const front = await startGateway(fast.endpoint);
    try {
      const req = request({ ...front.endpoint, path: '/', agent: false });
      req.end();
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      res.pause();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // What is in flight fits in socket buffers on both hops; without backpressure the berth would have sent it all.
      assert.ok(sent < 48 * MB, `the berth sent ${(sent / MB).toFixed(1)} MB to a client that read nothing`);
      let received = 0;
      for await (const piece of res) received += (piece as Buffer).length;
      assert.equal(received, total);
    } finally {
      await front.close();
      await fast.close();
    }
  });
});

/** Sends `upload` bytes (from one reused buffer, with backpressure) and returns how many came back, without keeping them. */
async function transfer(endpoint: HostPort, method: string, path: string, upload: number): Promise<number> {
  const req = request({ ...endpoint, method, path, agent: false, headers: upload > 0 ? { 'content-type': 'application/octet-stream' } : {} });
  const responded = once(req, 'response') as Promise<[IncomingMessage]>;
  if (upload > 0) body(upload).pipe(req);
  else req.end();
  const [res] = await responded;
  assert.equal(res.statusCode, 200);
  let received = 0;
  for await (const chunk of res) received += (chunk as Buffer).length;
  return received;
}

function body(total: number): Readable {
  const chunk = Buffer.alloc(64 * 1024, 1);
  let left = total;
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      this.push(piece);
    },
  });
}

function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+); without it the check only gets stricter. */
function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // the start-up peak stays in VmHWM, which can only overstate the growth
  }
}

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';

/*
 * A berth's port was taken by an outgoing connection: the port a local berth
 * (or a test's gateway) is given must not come from the kernel's ephemeral
 * range, which every outgoing connection also draws from, or one of the
 * gateway's own proxied connections can take it before the berth binds it
 * (seen as a 502 on a berth that could not listen).
 */
describe('freeLoopbackPort', () => {
  const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

  it("gives ports below the kernel's ephemeral range that a listener can then bind", async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freeLoopbackPort()));
    for (const port of ports) {
      assert.ok(port >= 10_000 && port < ephemeralLow, `${port} is outside 10000-${ephemeralLow - 1}`);
    }
    const server = createServer().listen(ports[0], '127.0.0.1');
    await once(server, 'listening');
    server.close();
  });
});

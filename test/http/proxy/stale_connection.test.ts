import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fetchText, startBerth, startGateway } from './harness.js';

/**
 * Upstream connections are pooled; a berth that closes an idle one just as
 * the gateway reuses it must not cost the user a 502 when the request can
 * safely be sent again.
 */
describe('pooled upstream connections', () => {
  it('reuses a few keep-alive connections for many requests', async () => {
    let connections = 0;
    const berth = await startBerth((_req, res) => res.end('ok'));
    berth.server.on('connection', () => (connections += 1));
    const gateway = await startGateway(berth.endpoint);
    try {
      for (let i = 0; i < 50; i += 1) assert.equal((await fetchText(gateway.endpoint, '/')).body, 'ok');
      assert.equal(connections, 1);
    } finally {
      await gateway.close();
      await berth.close();
    }
  });

  /** A berth that drops every connection at its second request, as one closing idle connections does in the race. */
  async function droppingBerth() {
    const served = new WeakMap<object, number>();
    const berth = await startBerth((req, res) => {
      const count = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, count);
      if (count > 1) {
        req.socket.destroy();
        return;
      }
      res.end(`ok ${req.method}`);
    });
    return berth;
  }

  it('sends a bodiless request again on a fresh connection when a reused one was reset', async () => {
    const berth = await droppingBerth();
    const gateway = await startGateway(berth.endpoint);
    try {
      for (let i = 0; i < 5; i += 1) assert.equal((await fetchText(gateway.endpoint, '/')).body, 'ok GET');
    } finally {
      await gateway.close();
      await berth.close();
    }
  });

  it('does not send a request with a body twice', async () => {
    const berth = await droppingBerth();
    const gateway = await startGateway(berth.endpoint);
    try {
      assert.equal((await fetchText(gateway.endpoint, '/', { method: 'POST', body: 'x' })).body, 'ok POST');
      assert.equal((await fetchText(gateway.endpoint, '/', { method: 'POST', body: 'x' })).status, 502);
    } finally {
      await gateway.close();
      await berth.close();
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IncomingHttpHeaders } from 'node:http';
import { stripRules } from '../../../src/http/proxy/index.js';
import { fetchText, rawExchange, startDemoBerth, startGateway, type Berth, type Gateway } from './harness.js';

/** The berth learns who connected and how from the gateway's own view, not from what a client claims. */
describe('X-Forwarded-* headers', () => {
  let berth: Berth;
  let gateway: Gateway;
  before(async () => {
    berth = await startDemoBerth();
    gateway = await startGateway(berth.endpoint, { scheme: 'https' });
  });
  after(async () => {
    await gateway.close();
    await berth.close();
  });

  async function seenVia(front: Gateway, headers: Record<string, string>): Promise<IncomingHttpHeaders> {
    const reply = await fetchText(front.endpoint, '/env', { headers });
    return (JSON.parse(reply.body) as { headers: IncomingHttpHeaders }).headers;
  }

  it('appends the peer to X-Forwarded-For', async () => {
    assert.equal((await seenVia(gateway, {}))['x-forwarded-for'], '127.0.0.1');
    assert.equal((await seenVia(gateway, { 'X-Forwarded-For': '10.0.0.1, 10.0.0.2' }))['x-forwarded-for'], '10.0.0.1, 10.0.0.2, 127.0.0.1');
  });

  it('sets X-Forwarded-Proto from the caller and X-Forwarded-Host from Host, ignoring the client’s', async () => {
    const at = await seenVia(gateway, { Host: 'alice.apps.example:8443', 'X-Forwarded-Proto': 'gopher', 'X-Forwarded-Host': 'evil.example' });
    assert.equal(at['x-forwarded-proto'], 'https');
    assert.equal(at['x-forwarded-host'], 'alice.apps.example:8443');
    assert.equal(at.host, 'alice.apps.example:8443');
  });

  it('does not let an underscore spelling stand in for the gateway’s own X-Forwarded-* headers', async () => {
    const at = await seenVia(gateway, { X_Forwarded_Proto: 'gopher', X_Forwarded_Host: 'evil.example', X_Forwarded_For: '6.6.6.6' });
    assert.equal(at.x_forwarded_proto, undefined);
    assert.equal(at.x_forwarded_host, undefined);
    assert.equal(at.x_forwarded_for, undefined);
    assert.equal(at['x-forwarded-proto'], 'https');
    assert.equal(at['x-forwarded-for'], '127.0.0.1');
  });

  it('gives the berth a Host (localhost, as it knows itself) when an HTTP/1.0 client sent none', async () => {
    const reply = await rawExchange(gateway.endpoint, 'GET /env HTTP/1.0\r\n\r\n');
    const at = (JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as { headers: IncomingHttpHeaders }).headers;
    assert.equal(at.host, `localhost:${berth.endpoint.port}`);
    assert.equal(at['x-forwarded-host'], undefined);
  });

  it('keeps only the peer when the caller strips X-Forwarded-For (client-supplied chains untrusted)', async () => {
    const strict = await startGateway(berth.endpoint, { scheme: 'http', strip: stripRules({ headers: ['X-Forwarded-For'] }) });
    try {
      assert.equal((await seenVia(strict, { 'X-Forwarded-For': '6.6.6.6' }))['x-forwarded-for'], '127.0.0.1');
    } finally {
      await strict.close();
    }
  });
});

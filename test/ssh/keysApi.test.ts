import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { asBerthError } from '../../src/core/errors.js';
import { keyRoutes } from '../../src/http/api/keys.js';
import { sendError } from '../../src/http/respond.js';
import { RouteTable } from '../../src/http/routes.js';
import { makeKey, run, scratchDir, sshArgs, startGateway, type ClientKey, type Gateway } from './harness.js';

describe('/_berth/api/me/keys', () => {
  let gateway: Gateway;
  let scratch: ReturnType<typeof scratchDir>;
  let http: Server;
  let base: string;
  let alice: ClientKey;

  before(async () => {
    gateway = await startGateway();
    scratch = scratchDir();
    alice = makeKey(scratch.dir, 'alice');
    const table = new RouteTable(keyRoutes(gateway.parts.store));
    // The gateway's authentication is not under test: the user comes from a header here.
    http = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://test');
      const match = table.find(req.method ?? 'GET', url.pathname);
      if (match === null || match === 'method') return void res.writeHead(404).end();
      const user = { name: String(req.headers['x-test-user']), groups: [], admin: false };
      Promise.resolve(match.route.handler({ req, res, url, user, params: match.params })).catch((err) => sendError(req, res, asBerthError(err)));
    }).listen(0, '127.0.0.1');
    await new Promise((resolve) => http.once('listening', resolve));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}/_berth/api/me/keys`;
  });
  after(async () => {
    http.close();
    await gateway.close();
    scratch.remove();
  });

  const call = async (user: string, method: string, body?: unknown, query = '') => {
    const response = await fetch(`${base}${query}`, {
      method,
      headers: { 'x-test-user': user, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  const login = (key: ClientKey) => run('ssh', sshArgs(gateway, key, 'alice', 'echo "$BERTH_USER"'));

  it('adds a key that then logs in over ssh, lists it, and deletes it', async () => {
    assert.equal((await login(alice)).code, 255, 'not registered yet');
    const added = await call('alice', 'POST', { key: alice.publicKey });
    assert.equal(added.status, 201);
    assert.match(added.body.fingerprint, /^SHA256:/);
    assert.equal(added.body.type, 'ssh-ed25519');
    assert.equal(added.body.comment, 'alice@test');
    assert.equal((await call('alice', 'POST', { key: alice.publicKey })).status, 200, 'adding it again changes nothing');

    assert.equal((await login(alice)).stdout, 'alice\n');

    const listed = await call('alice', 'GET');
    assert.deepEqual(listed.body.keys.map((k: { id: number }) => k.id), [added.body.id]);
    assert.deepEqual((await call('bob', 'GET')).body.keys, [], "bob does not see alice's keys");
    assert.equal((await call('bob', 'DELETE', undefined, `?id=${added.body.id}`)).status, 404, "bob cannot delete alice's key");

    const deleted = await call('alice', 'DELETE', { id: added.body.id });
    assert.deepEqual([deleted.status, deleted.body], [200, { deleted: added.body.id }]);
    assert.equal((await login(alice)).code, 255, 'a deleted key no longer logs in');
  });

  it('refuses private keys, garbage, options and weak keys with a 400 saying what to send', async () => {
    const privateKey = readFileSync(alice.path, 'utf8');
    const cases: Array<[unknown, RegExp]> = [
      [{ key: privateKey }, /private key/],
      [{ key: 'ssh-ed25519 not-base64' }, /authorized_keys form/],
      [{ key: `command="ls" ${alice.publicKey}` }, /authorized_keys form/],
      [{ key: `${alice.publicKey}\n${alice.publicKey}` }, /authorized_keys form/],
      [{ key: makeKey(scratch.dir, 'small', { type: 'rsa', bits: 1024 }).publicKey }, /too weak/],
      [{}, /Send \{"key"/],
      [[1, 2], /Send \{"key"/],
    ];
    for (const [body, message] of cases) {
      const result = await call('alice', 'POST', body);
      assert.equal(result.status, 400, JSON.stringify(body).slice(0, 60));
      assert.equal(result.body.error.code, 'bad_request');
      assert.match(result.body.error.message, message);
      assert.equal(JSON.stringify(result.body).includes('PRIVATE'), false, 'the key is never echoed');
    }
    assert.equal((await call('alice', 'DELETE', undefined, '?id=abc')).status, 400);
  });
});

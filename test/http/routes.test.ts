import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RouteTable, type Route } from '../../src/http/routes.js';

const route = (method: Route['method'], path: string): Route => ({ method, path, access: 'user', handler: () => undefined });

describe('route table', () => {
  const routes = [
    route('GET', '/_berth/api/me/tokens'),
    route('POST', '/_berth/api/me/tokens'),
    route('DELETE', '/_berth/api/me/tokens/:id'),
    route('PUT', '/_berth/api/me/ports/:port'),
    route('GET', '/_berth/api/things/:a/parts/:b'),
  ];
  const table = new RouteTable(routes);

  const found = (method: string, path: string) => {
    const match = table.find(method, path);
    return match === null || match === 'method' ? match : { path: match.route.path, params: match.params };
  };

  it('finds exact paths, and HEAD as GET', () => {
    assert.deepEqual(found('GET', '/_berth/api/me/tokens'), { path: '/_berth/api/me/tokens', params: {} });
    assert.deepEqual(found('HEAD', '/_berth/api/me/tokens'), { path: '/_berth/api/me/tokens', params: {} });
  });

  it('binds :name segments, decoded', () => {
    assert.deepEqual(found('DELETE', '/_berth/api/me/tokens/abc'), { path: '/_berth/api/me/tokens/:id', params: { id: 'abc' } });
    assert.deepEqual(found('DELETE', '/_berth/api/me/tokens/a%20b'), { path: '/_berth/api/me/tokens/:id', params: { id: 'a b' } });
    assert.deepEqual(found('GET', '/_berth/api/things/1/parts/2'), { path: '/_berth/api/things/:a/parts/:b', params: { a: '1', b: '2' } });
  });

  it('says "method" for a known path under another method, null for unknown or partial paths', () => {
    assert.equal(found('PUT', '/_berth/api/me/tokens'), 'method');
    assert.equal(found('GET', '/_berth/api/me/ports/3000'), 'method');
    assert.equal(found('DELETE', '/_berth/api/me/tokens/'), null);
    assert.equal(found('DELETE', '/_berth/api/me/tokens/a/b'), null);
    assert.equal(found('DELETE', '/_berth/api/me/tokens/%zz'), null);
    assert.equal(found('GET', '/_berth/api/things/1/other/2'), null);
  });
});

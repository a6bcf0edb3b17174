import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { verdict } from '../../src/apps/access.js';
import { AppCookies } from '../../src/apps/appCookie.js';
import { AppHosts } from '../../src/apps/appHosts.js';
import { HandOffCodes } from '../../src/apps/codes.js';
import { Tokens } from '../../src/auth/token/tokens.js';
import type { Forwarder } from '../../src/http/forwarder.js';
import { createLogger } from '../../src/log/logger.js';
import type { BerthDirectory } from '../../src/spawner/types.js';
import { Store } from '../../src/store/store.js';
import { fakeRequest, testConfig } from '../auth/helpers.js';

describe('share levels', () => {
  const cases: Array<[Parameters<typeof verdict>, ReturnType<typeof verdict>]> = [
    [['owner', 'alice', 'alice'], 'allowed'],
    [['owner', 'alice', 'bob'], 'forbidden'],
    [['owner', 'alice', null], 'sign_in'],
    [['users', 'alice', 'bob'], 'allowed'],
    [['users', 'alice', null], 'sign_in'],
    [['public', 'alice', null], 'allowed'],
    [['public', 'alice', 'bob'], 'allowed'],
  ];
  for (const [args, expected] of cases) it(`${args.join(', ')} -> ${expected}`, () => assert.equal(verdict(...args), expected));
});

describe('app hosts refuse before any runtime call', () => {
  it('answers malformed and unknown hosts with not_found, touching no berth', async () => {
    const config = testConfig({ apps: { domain: 'apps.test' } });
    const store = await Store.open(config.dataDir);
    await store.rememberUser('alice');
    const touched: string[] = [];
    // Only userOf() (the spawner's memory) may be consulted; anything else would reach the runtime.
    const directory = new Proxy({} as BerthDirectory, {
      get: (_target, name) => (name === 'userOf' ? () => null : () => touched.push(String(name))),
    });
    const apps = new AppHosts({
      config,
      directory,
      store,
      tokens: new Tokens(store, () => false),
      cookies: new AppCookies({ key: Buffer.alloc(32), lifetimeSeconds: 60, secure: false }),
      codes: new HandOffCodes(store),
      forwarder: {} as Forwarder,
      logger: createLogger(config.log.level),
    });
    try {
      for (const host of ['alice-0.apps.test', 'alice-99999.apps.test', 'x.alice-80.apps.test', 'nosuchuser-80.apps.test', 'apps.test', 'Alice_-80.apps.test']) {
        const req = fakeRequest({ headers: [['host', host]] });
        assert.equal(apps.claims(req), true, host);
        await assert.rejects(apps.handleRequest(req, {} as ServerResponse), { code: 'not_found' }, host);
      }
      // A known user without a cookie is asked to sign in, still without a runtime call.
      const known = fakeRequest({ headers: [['host', 'alice-80.apps.test']] });
      await assert.rejects(apps.handleRequest(known, {} as ServerResponse), { code: 'unauthenticated' });
      assert.deepEqual(touched, []);
      assert.equal(apps.claims(fakeRequest({ headers: [['host', 'gateway.test']] })), false);
    } finally {
      await store.close();
    }
  });
});

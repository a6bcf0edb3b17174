import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAuth } from '../../src/auth/registry.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { BerthError } from '../../src/core/errors.js';
import { captureLogger, testConfig } from './helpers.js';

const start = (input: ConfigInput) => createAuth(testConfig(input), captureLogger().logger);

function isConfigError(pattern: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof BerthError && err.code === 'config_invalid' && pattern.test(err.userMessage);
}

describe('choosing the authenticator', () => {
  for (const listen of ['0.0.0.0:8000', '[::]:8000', '192.0.2.10:8000', 'gateway.example.test:8000']) {
    it(`refuses to start dev mode listening on ${listen}`, async () => {
      await assert.rejects(start({ listen: { http: listen }, auth: { mode: 'dev' } }), isConfigError(/listen\.http.*allowRemote/s));
    });
  }

  for (const listen of ['127.0.0.1:8000', '[::1]:8000', 'localhost:0', '127.1.2.3:8000']) {
    it(`starts dev mode listening on loopback ${listen}`, async () => {
      assert.equal((await start({ listen: { http: listen }, auth: { mode: 'dev' } })).authenticator.mode, 'dev');
    });
  }

  it('starts dev mode beyond loopback when auth.dev.allowRemote is true', async () => {
    const auth = await start({ listen: { http: '0.0.0.0:8000' }, auth: { mode: 'dev', dev: { allowRemote: true } } });
    assert.equal(auth.authenticator.mode, 'dev');
  });

  it('starts header mode on any address: the proxy in front does the sign-in', async () => {
    const auth = await start({ listen: { http: '0.0.0.0:8000' }, auth: { mode: 'header' } });
    assert.equal(auth.authenticator.mode, 'header');
    assert.equal(auth.authenticator.routes.size, 0);
  });

  it('says which auth.oidc key is missing for oidc', async () => {
    await assert.rejects(start({ auth: { mode: 'oidc' } }), isConfigError(/auth\.oidc\.issuer is not set/));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAuth } from '../../src/auth/registry.js';
import { cidrMatcher } from '../../src/core/net.js';
import { captureLogger, expectChallenge, expectRefused, expectUser, fakeRequest, testConfig } from './helpers.js';

/*
 * The failure guarded: auth.header.trustedProxies covering the berths' range
 * (a Docker network trusted for an oauth2-proxy beside the gateway) lets any
 * berth name any user. The runtime says which peers are berths; they are
 * never believed, whatever the trusted ranges say. (The same against a real
 * gateway and a real berth: test/e2e/berthPosingAsProxy.test.ts.)
 */

const BERTHS = ['172.30.0.0/16', 'fd00:b::/64'];

async function gatewayTrustingBerths() {
  const { logger, text } = captureLogger();
  const config = testConfig({ auth: { mode: 'header', header: { trustedProxies: ['172.30.0.0/16', '10.0.0.0/8', 'fd00:b::/64'] } } });
  const auth = await createAuth(config, logger, cidrMatcher(BERTHS));
  const authenticate = (peer: string, headers: Array<[string, string]>) => auth.authenticator.authenticate(fakeRequest({ peer, headers }));
  return { authenticate, logs: text };
}

describe('header mode: a berth is never a trusted proxy', () => {
  for (const peer of ['172.30.0.9', '::ffff:172.30.0.9', '::ffff:ac1e:9', 'fd00:b::9']) {
    for (const header of ['X-Forwarded-Preferred-Username', 'X-Forwarded-Email', 'X-Forwarded-Groups']) {
      it(`refuses ${header} from berth ${peer} inside the trusted ranges with 403 and a log line naming the berth, not the value`, async () => {
        const { authenticate, logs } = await gatewayTrustingBerths();
        const refused = expectRefused(await authenticate(peer, [[header, 'secret-value-9']]));
        assert.equal(refused.code, 'untrusted_identity_header');
        assert.equal(refused.status, 403);
        assert.match(logs(), /identity header from a berth refused/);
        assert.ok(logs().includes(`"peer":"${peer}"`), logs());
        assert.doesNotMatch(logs(), /secret-value-9/);
      });
    }
  }

  it('challenges a berth that sends no identity header, and still believes the proxy outside the berths', async () => {
    const { authenticate } = await gatewayTrustingBerths();
    expectChallenge(await authenticate('172.30.0.9', []));
    assert.equal(expectUser(await authenticate('10.1.2.3', [['X-Forwarded-Preferred-Username', 'alice']])).user.name, 'alice');
    assert.equal(expectRefused(await authenticate('172.31.0.9', [['X-Forwarded-Preferred-Username', 'alice']])).code, 'untrusted_identity_header', 'outside every trusted range');
  });
});

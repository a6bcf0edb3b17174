import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeSetup, gatewayForAlice, run, sshArgs, type ClientKey, type Gateway, type Scratch } from './harness.js';

describe('ssh.algorithms', () => {
  let gateway: Gateway;
  let scratch: Scratch;
  let key: ClientKey;

  before(async () => {
    ({ gateway, scratch, key } = await gatewayForAlice((config) => {
      config.ssh.algorithms.cipher = ['aes256-gcm@openssh.com'];
    }));
  });
  after(() => closeSetup({ gateway, scratch }));

  it('offers only the configured list in place of the default', async () => {
    const chosen = await run('ssh', sshArgs(gateway, key, 'alice', 'true', ['-v']));
    assert.equal(chosen.code, 0, chosen.stderr);
    assert.match(chosen.stderr, /kex: server->client cipher: aes256-gcm@openssh\.com/);
    const other = await run('ssh', sshArgs(gateway, key, 'alice', 'true', ['-o', 'Ciphers=chacha20-poly1305@openssh.com']));
    assert.equal(other.code, 255, 'a cipher left out of the list must not be negotiable');
  });

  it('refuses to start on a name it does not know, naming the key', async () => {
    const before = gateway.config.ssh.algorithms.kex;
    gateway.config.ssh.algorithms.kex = ['curve25519-sha256', 'diffie-hellman-group1-sha0'];
    try {
      await assert.rejects(gateway.restart(), (err: Error & { code?: string; userMessage?: string }) => {
        assert.equal(err.code, 'config_invalid');
        assert.match(err.userMessage ?? '', /^ssh\.algorithms: "diffie-hellman-group1-sha0" is not an algorithm/);
        return true;
      });
    } finally {
      gateway.config.ssh.algorithms.kex = before;
      await gateway.restart();
    }
  });
});

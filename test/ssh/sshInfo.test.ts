import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sshInfo } from '../../src/cli/sshInfo.js';
import { hostKeyFingerprints, loadHostKeys } from '../../src/ssh/hostKeys.js';
import { testConfig } from '../helpers/gatewayParts.js';

describe('berth ssh-info', () => {
  it('prints the command, and fingerprints of host keys it makes if missing', async () => {
    const config = testConfig({ BERTH_LISTEN_SSH: '0.0.0.0:2222', BERTH_PUBLIC_URL: 'https://berth.example.org' });
    try {
      assert.equal(existsSync(join(config.dataDir, 'ssh', 'ssh_host_ed25519_key')), false);
      const text = await sshInfo(config);
      assert.match(text, /^  ssh -p 2222 <username>@berth\.example\.org$/m);
      assert.match(text, /^  sftp -P 2222 <username>@berth\.example\.org$/m);
      for (const fingerprint of hostKeyFingerprints(loadHostKeys(config.dataDir))) assert.ok(text.includes(fingerprint), fingerprint);
      assert.match(text, /^  \[berth\.example\.org\]:2222 ssh-ed25519 AAAA\S+$/m);
      assert.equal(await sshInfo(config), text, 'the same keys on every run');
    } finally {
      rmSync(config.dataDir, { recursive: true, force: true });
    }
  });

  it('says so when SSH is off', async () => {
    const config = testConfig();
    config.listen.ssh = null;
    try {
      assert.match(await sshInfo(config), /SSH is off/);
    } finally {
      rmSync(config.dataDir, { recursive: true, force: true });
    }
  });
});

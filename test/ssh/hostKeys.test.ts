import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run, startGateway, type Gateway } from './harness.js';

/** "SHA256:…" fingerprints of the host keys a real client is shown. */
async function scannedFingerprints(port: number): Promise<string[]> {
  const scan = await run('ssh-keyscan', ['-p', String(port), '-t', 'ed25519,rsa', '127.0.0.1']);
  assert.equal(scan.code, 0, scan.stderr);
  const listed = await run('ssh-keygen', ['-l', '-f', '-'], { input: scan.stdout });
  return listed.stdout.split('\n').filter(Boolean).map((line) => line.split(' ')[1] as string).sort();
}

describe('ssh host keys', () => {
  let gateway: Gateway;

  before(async () => {
    gateway = await startGateway();
  });
  after(async () => {
    await gateway.close();
  });

  it('are ed25519 and RSA, private files mode 0600, and what clients see', async () => {
    const dir = join(gateway.config.dataDir, 'ssh');
    for (const file of ['ssh_host_ed25519_key', 'ssh_host_rsa_key']) {
      assert.equal(statSync(join(dir, file)).mode & 0o777, 0o600, file);
    }
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const shown = gateway.server.fingerprints();
    assert.match(shown[0] as string, /^SHA256:[A-Za-z0-9+/]{43} \(ED25519\)$/);
    assert.match(shown[1] as string, /^SHA256:[A-Za-z0-9+/]{43} \(RSA\)$/);
    assert.deepEqual(await scannedFingerprints(gateway.port), shown.map((f) => f.split(' ')[0]).sort());
  });

  it('stay the same across a restart', async () => {
    const before = gateway.server.fingerprints();
    await gateway.restart();
    assert.deepEqual(gateway.server.fingerprints(), before);
    assert.deepEqual(await scannedFingerprints(gateway.port), before.map((f) => f.split(' ')[0]).sort());
  });
});

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { authorizedKeyLine, readPublicKey } from '../../src/ssh/keys.js';

describe('readPublicKey', () => {
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'me@laptop' });

  it('reads an authorized_keys line and gives the OpenSSH fingerprint form', () => {
    const result = readPublicKey(pair.public);
    assert.ok('key' in result);
    assert.equal(result.key.type, 'ssh-ed25519');
    assert.equal(result.key.comment, 'me@laptop');
    assert.match(result.key.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(authorizedKeyLine(result.key), pair.public);
    assert.equal(authorizedKeyLine(result.key, false), pair.public.split(' ').slice(0, 2).join(' '));
  });

  it('reads the wire form, as clients send it', () => {
    const fromText = readPublicKey(pair.public);
    assert.ok('key' in fromText);
    const fromWire = readPublicKey(fromText.key.blob);
    assert.ok('key' in fromWire);
    assert.equal(fromWire.key.fingerprint, fromText.key.fingerprint);
  });

  it('refuses private keys by name, even encrypted ones', () => {
    assert.deepEqual(readPublicKey(pair.private), { problem: 'private_key' });
    const encrypted = ssh2.utils.generateKeyPairSync('ed25519', { passphrase: 'x', cipher: 'aes256-ctr', rounds: 4 });
    assert.deepEqual(readPublicKey(encrypted.private), { problem: 'private_key' });
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    assert.deepEqual(readPublicKey(pem), { problem: 'private_key' });
  });

  it('refuses weak keys and anything that is not a key', () => {
    const small = ssh2.utils.generateKeyPairSync('rsa', { bits: 1024 });
    assert.deepEqual(readPublicKey(small.public), { problem: 'weak' });
    for (const junk of ['', 'hello', 'ssh-ed25519', 'ssh-ed25519 AAAA', `restrict ${pair.public}`, Buffer.from([0, 0, 0, 1, 0])]) {
      assert.deepEqual(readPublicKey(junk), { problem: 'unsupported' }, String(junk));
    }
  });
});

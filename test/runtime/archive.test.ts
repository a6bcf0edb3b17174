import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { entryIn } from '../../src/runtime/docker/archive.js';

/*
 * The archive reader behind attach mode's authorized_keys files, against
 * archives made by GNU tar in the formats engines send (ustar, and PAX with
 * a long name), plus the entries it must refuse.
 */

describe('one regular file from a tar archive', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-archive-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const tarOf = (name: string, format = 'ustar') => execFileSync('tar', ['-c', `--format=${format}`, '-C', dir, name]);

  it('reads a regular file, in ustar and in PAX with a long name', () => {
    writeFileSync(join(dir, 'keys'), 'ssh-ed25519 AAAA one\n');
    chmodSync(join(dir, 'keys'), 0o600);
    assert.deepEqual(entryIn(tarOf('keys'), 1024), { text: 'ssh-ed25519 AAAA one\n' });
    const long = `${'n'.repeat(150)}`;
    writeFileSync(join(dir, long), 'long name\n');
    chmodSync(join(dir, long), 0o644);
    assert.deepEqual(entryIn(tarOf(long, 'pax'), 1024), { text: 'long name\n' });
  });

  it('gives a symbolic link\'s target, and refuses a directory, a file others may write, and one over the cap', () => {
    symlinkSync('keys', join(dir, 'link'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'open'), 'x\n');
    chmodSync(join(dir, 'open'), 0o666);
    writeFileSync(join(dir, 'big'), Buffer.alloc(2048, 97));
    chmodSync(join(dir, 'big'), 0o600);
    assert.deepEqual(entryIn(tarOf('link'), 1024), { link: 'keys' });
    assert.deepEqual(entryIn(tarOf('sub'), 1024), { problem: 'not a regular file (a directory)' });
    assert.deepEqual(entryIn(tarOf('open'), 1024), { problem: 'writable by group or others (mode 666)' });
    assert.deepEqual(entryIn(tarOf('big'), 1024), { problem: 'larger than 1024 bytes' });
  });

  it('refuses an archive cut inside its file, and one with no entry', () => {
    const whole = tarOf('keys');
    assert.deepEqual(entryIn(whole.subarray(0, 520), 1024), { problem: 'the archive ended inside the file' });
    assert.deepEqual(entryIn(Buffer.alloc(1024), 1024), { problem: 'the archive holds no file' });
    assert.deepEqual(entryIn(Buffer.alloc(0), 1024), { problem: 'the archive holds no file' });
  });
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tarOf } from '../../src/runtime/tarArchive.js';

/* The archives the gateway writes for the engines' archive APIs, read back by GNU tar. */
describe('tar archives the gateway writes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'b1718-tar-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('holds directories, files with their modes, empty files, UTF-8 names and paths past ustar\'s 100 bytes', () => {
    const long = `${'deep/'.repeat(30)}file.txt`;
    const tar = tarOf([
      { kind: 'dir', path: 'conf', mode: 0o755 },
      { kind: 'file', path: 'conf/secret', mode: 0o600, content: Buffer.from('s3cret') },
      { kind: 'file', path: 'conf/empty', mode: 0o644, content: Buffer.alloc(0) },
      { kind: 'file', path: 'conf/großes €.txt', mode: 0o644, content: Buffer.alloc(1000, 'x') },
      { kind: 'file', path: long, mode: 0o644, content: Buffer.from('at the bottom\n') },
    ]);
    const file = join(dir, 'a.tar');
    writeFileSync(file, tar);
    const listed = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(listed, ['conf/', 'conf/secret', 'conf/empty', 'conf/großes €.txt', long]);
    const out = join(dir, 'out');
    execFileSync('mkdir', [out]);
    execFileSync('tar', ['-xf', file, '-C', out, '--no-same-owner']);
    assert.equal(readFileSync(join(out, 'conf/secret'), 'utf8'), 's3cret');
    assert.equal(statSync(join(out, 'conf/secret')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(out, 'conf/empty'), 'utf8'), '');
    assert.equal(readFileSync(join(out, 'conf/großes €.txt')).length, 1000);
    assert.equal(readFileSync(join(out, long), 'utf8'), 'at the bottom\n');
  });
});

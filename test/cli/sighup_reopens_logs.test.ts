import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { eventually, httpRequest } from '../helpers/http.js';
import { berthServe, stopServe } from '../helpers/serve.js';

/*
 * logrotate's way: rename the files, send SIGHUP, and the gateway writes on
 * in new files under the old names (log.file, log.accessFile, audit.file),
 * while the renamed ones get nothing more.
 */
describe('SIGHUP reopens the log files of berth serve', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-sighup-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string) => join(dir, name);
  const text = (name: string) => (existsSync(file(name)) ? readFileSync(file(name), 'utf8') : '');
  const until = (what: string, probe: () => boolean) => eventually(async () => (probe() ? true : undefined), 15_000, what);

  it('writes to new files under the same names after the old ones were renamed', { timeout: 90_000 }, async () => {
    const gateway = await berthServe([], {
      BERTH_DATA_DIR: file('data'),
      BERTH_LISTEN_SSH: 'null',
      BERTH_AUTH_MODE: 'header',
      BERTH_LOG_FILE: file('berth.log'),
      BERTH_LOG_ACCESS: 'true',
      BERTH_LOG_ACCESS_FILE: file('access.log'),
      BERTH_AUDIT_FILE: file('audit.jsonl'),
    });
    try {
      const asUser = (user: string) => httpRequest(`${gateway.base}/_berth/api/me`, { headers: { 'X-Forwarded-Preferred-Username': user } });
      assert.equal((await asUser('alice')).status, 200);
      await until('the first lines', () => text('access.log').includes('"user":"alice"') && text('audit.jsonl').includes('"alice"') && text('berth.log').includes('is serving'));
      assert.equal(gateway.lines.length, 0, 'with log.file set, nothing is logged on stdout');

      for (const name of ['berth.log', 'access.log', 'audit.jsonl']) renameSync(file(name), file(`${name}.1`));
      gateway.child.kill('SIGHUP');
      await until('log.file reopened', () => text('berth.log').includes('log files reopened'));
      assert.equal((await asUser('bob')).status, 200);
      await until('the access and audit files reopened', () => text('access.log').includes('"user":"bob"') && text('audit.jsonl').includes('"bob"'));

      assert.equal(gateway.child.exitCode, null, 'SIGHUP does not stop the gateway');
      assert.equal(await stopServe(gateway, 'SIGTERM'), 0);
      for (const name of ['berth.log', 'access.log', 'audit.jsonl']) {
        assert.ok(!text(`${name}.1`).includes('bob'), `the renamed ${name} got nothing after SIGHUP`);
        assert.ok(!text(name).includes('"alice"'), `the new ${name} starts after the rename`);
      }
      assert.match(text('berth.log'), /"msg":"stopped"/, 'the last line of the shutdown is in the new log.file');
    } finally {
      await stopServe(gateway, 'SIGKILL');
    }
  });
});

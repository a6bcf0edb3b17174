import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, describeConfig, loadConfig } from '../../src/config/load.js';

function withFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-config-'));
  const file = join(dir, 'berth.yaml');
  writeFileSync(file, yaml);
  return file;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the configuration to be refused');
}

describe('configuration', () => {
  it('works with no file at all, with the documented defaults', () => {
    const { config, file } = loadConfig({ env: {}, cwd: tmpdir() });
    assert.equal(file, null);
    assert.equal(config.listen.http, '127.0.0.1:8000');
    assert.equal(config.listen.ssh, '127.0.0.1:2222');
    assert.equal(config.auth.mode, 'dev');
    assert.equal(config.runtime.kind, 'local');
    assert.equal(config.environment.port, 8080);
    assert.equal(config.spawn.timeoutSeconds, 120);
    assert.equal(config.idle.stopAfterSeconds, 3600);
    assert.deepEqual(config.auth.header.trustedProxies, ['127.0.0.0/8', '::1/128']);
  });

  const refused: Array<[string, string, RegExp]> = [
    ['a port out of range', 'listen:\n  http: "127.0.0.1:70000"\n', /^listen\.http: .*port from 1 to 65535/],
    ['a CIDR that does not parse', 'auth:\n  header:\n    trustedProxies: ["10.0.0.0/40"]\n', /^auth\.header\.trustedProxies\.0: expected a CIDR/],
    ['an unknown key', 'spawn:\n  timeoutSecond: 5\n', /^spawn\.timeoutSecond: unknown key/],
    ['a wrong type', 'idle:\n  stopAfterSeconds: soon\n', /^idle\.stopAfterSeconds: /],
    ['an unknown mode', 'auth:\n  mode: magic\n', /^auth\.mode: /],
    ['a list where a mapping belongs', '- 1\n- 2\n', /^\(top level\)/],
    ['broken YAML', 'listen: [\n', /not valid YAML/],
    ['a store URL that is not PostgreSQL', 'store:\n  kind: postgres\n  url: "mysql://db/berth"\n', /^store\.url: expected a postgres:\/\/ or postgresql:\/\/ URL/],
    ['a store URL on SQLite', 'store:\n  url: "postgres://db/berth"\n', /^store: store\.url and store\.urlFile need store\.kind: postgres/],
    ['both store.url and store.urlFile', 'store:\n  kind: postgres\n  url: "postgres://db/berth"\n  urlFile: /run/secrets/db\n', /^store: set store\.url or store\.urlFile, not both/],
  ];
  for (const [what, yaml, expected] of refused) {
    it(`refuses ${what}, naming the key`, () => {
      const problems = problemsOf(() => loadConfig({ file: withFile(yaml), env: {} }));
      assert.ok(problems.some((p) => expected.test(p)), problems.join('\n'));
    });
  }

  it('lists every problem, not only the first', () => {
    const problems = problemsOf(() => loadConfig({ file: withFile('listen:\n  http: nope\nspawn:\n  concurrency: 0\n'), env: {} }));
    assert.equal(problems.length, 2);
  });

  it('takes BERTH_* overrides over the file, parsed as YAML values', () => {
    const { config } = loadConfig({
      file: withFile('listen:\n  http: "127.0.0.1:9000"\n'),
      env: { BERTH_LISTEN_HTTP: '127.0.0.1:9001', BERTH_SPAWN_CONCURRENCY: '3', BERTH_LISTEN_SSH: 'null', BERTH_AUTH_ADMINS: '[alice, bob]' },
    });
    assert.equal(config.listen.http, '127.0.0.1:9001');
    assert.equal(config.spawn.concurrency, 3);
    assert.equal(config.listen.ssh, null);
    assert.deepEqual(config.auth.admins, ['alice', 'bob']);
  });

  it('names the variable and key when an override is invalid', () => {
    const problems = problemsOf(() => loadConfig({ env: { BERTH_LISTEN_HTTP: '127.0.0.1:99999' }, cwd: tmpdir() }));
    assert.match(problems[0] ?? '', /^listen\.http: /);
  });

  it('masks secrets when describing the configuration', () => {
    const secret = 'a-very-long-session-secret-value-0123456789';
    const { config } = loadConfig({ env: { BERTH_AUTH_SESSION_SECRET: secret, BERTH_AUTH_OIDC_CLIENT_SECRET: 'hunter2' }, cwd: tmpdir() });
    const text = describeConfig(config);
    assert.ok(!text.includes(secret) && !text.includes('hunter2'));
    assert.match(text, /sessionSecret: "?\*{8}"?/);
  });

  it('takes the store from BERTH_STORE_* and never shows the password of its URL', () => {
    const { config } = loadConfig({ env: { BERTH_STORE_KIND: 'postgres', BERTH_STORE_URL: 'postgres://berth:s3cr%40t-pw@db.example.org:5432/berth?sslmode=require' }, cwd: tmpdir() });
    assert.equal(config.store.kind, 'postgres');
    const text = describeConfig(config);
    assert.ok(!text.includes('s3cr'), text);
    assert.match(text, /url: postgres:\/\/berth:\*{8}@db\.example\.org:5432\/berth\?sslmode=require/);
    const byFile = loadConfig({ env: { BERTH_STORE_KIND: 'postgres', BERTH_STORE_URL_FILE: '/run/secrets/berth-db' }, cwd: tmpdir() }).config;
    assert.deepEqual(byFile.store, { kind: 'postgres', url: null, urlFile: '/run/secrets/berth-db' });
    assert.deepEqual(loadConfig({ env: {}, cwd: tmpdir() }).config.store, { kind: 'sqlite', url: null, urlFile: null });
  });

  it('uses $BERTH_CONFIG when no --config is given', () => {
    const file = withFile('spawn:\n  holdSeconds: 7\n');
    assert.equal(loadConfig({ env: { BERTH_CONFIG: file } }).config.spawn.holdSeconds, 7);
  });
});

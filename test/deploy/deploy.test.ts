import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { environmentKeys } from '../../src/config/load.js';

/*
 * deploy/: the compose files as Debian's docker-compose reads them (config
 * resolves every variable and checks the schema), and the systemd unit as
 * systemd-analyze verify reads it. Beyond the tools' own checks: every
 * variable a compose file uses is explained in its header, every BERTH_*
 * variable it sets is a configuration key, and the unit has no key systemd
 * ignores.
 */

const COMPOSE_FILES = ['deploy/compose/docker-compose.yml', 'deploy/compose/docker-compose.oidc.yml'];
const UNIT = 'deploy/systemd/berth.service';

function tool(path: string, what: string): string | null {
  return existsSync(path) ? null : `${path} is missing: install Debian's ${what} (bash .ci/run system)`;
}

interface Compose {
  services: Record<string, { environment?: Record<string, string>; network_mode?: string }>;
}

describe('deploy/compose', () => {
  const missing = tool('/usr/bin/docker-compose', 'docker-compose');
  for (const file of COMPOSE_FILES) {
    it(`${file}: docker-compose config accepts it with the example values`, { skip: process.env.CI === 'true' ? false : (missing ?? false) }, () => {
      assert.equal(missing, null, missing ?? '');
      const run = spawnSync('docker-compose', ['--env-file', 'deploy/compose/example.env', '-f', file, 'config'], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(run.status, 0, run.stderr);
      const resolved = parse(run.stdout) as Compose;
      const berth = resolved.services.berth?.environment ?? {};
      assert.equal(berth.BERTH_PUBLIC_URL, 'https://berth.example.com');
      assert.equal(berth.BERTH_RUNTIME_KIND, 'docker');
      assert.equal(berth.BERTH_LISTEN_HTTP, '127.0.0.1:8000', 'only the proxy in front reaches the listener');
    });

    it(`${file}: fails naming the variable when one is unset`, { skip: process.env.CI === 'true' ? false : (missing ?? false) }, () => {
      const run = spawnSync('docker-compose', ['-f', file, 'config'], { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '' }, cwd: process.cwd() });
      assert.notEqual(run.status, 0);
      assert.match(run.stderr, /set (BERTH_HOST|OIDC_ISSUER|OIDC_CLIENT_ID|OIDC_CLIENT_SECRET|BERTH_ENVIRONMENT_IMAGE|OAUTH2_PROXY_COOKIE_SECRET|TLS_DIR)/);
    });

    it(`${file}: explains every variable it uses and sets only real BERTH_* keys`, () => {
      const text = readFileSync(file, 'utf8');
      const header = text.split('\n').filter((l) => l.startsWith('#')).join('\n');
      const used = new Set([...text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1] as string));
      for (const name of used) assert.match(header, new RegExp(`^#\\s+${name}\\s+\\S`, 'm'), `${name} is explained in the header`);
      const example = readFileSync('deploy/compose/example.env', 'utf8');
      for (const name of used) assert.match(example, new RegExp(`^${name}=`, 'm'), `example.env gives ${name}`);
      const known = new Set(environmentKeys().map((k) => k.variable));
      const compose = parse(text) as Compose;
      for (const [name, service] of Object.entries(compose.services)) {
        for (const key of Object.keys(service.environment ?? {})) {
          if (key.startsWith('BERTH_')) assert.ok(known.has(key), `${name}: ${key} is a configuration key`);
        }
      }
    });
  }
});

describe('deploy/systemd', () => {
  const missing = tool('/usr/bin/systemd-analyze', 'systemd');
  it('systemd-analyze verify accepts berth.service with no warning', { skip: process.env.CI === 'true' ? false : (missing ?? false) }, () => {
    assert.equal(missing, null, missing ?? '');
    const run = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr.trim(), '', 'no ignored key or other complaint');
  });

  it('berth.service has the hardening an operator expects', () => {
    const unit = readFileSync(UNIT, 'utf8');
    for (const line of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'StateDirectory=berth', 'CapabilityBoundingSet=', 'User=berth']) {
      assert.match(unit, new RegExp(`^${line}$`, 'm'), line);
    }
    assert.match(unit, /^ExecStart=\/usr\/bin\/node \/opt\/berth\/bin\/berth\.js serve /m);
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { DEBIAN, removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import { httpRequest } from '../helpers/http.js';
import { berthServe, CLI, stopServe, type Served } from '../helpers/serve.js';
import { background, clientOptions, makeKey, run, scratchDir, until, type ClientKey } from './harness.js';

/**
 * The whole gateway from `berth serve`, on a real Docker engine: keys
 * registered through the HTTP API log in over SSH, the host keys are logged,
 * shown by `berth ssh-info` and kept across a restart, and SIGTERM tells open
 * sessions why they end.
 */
await withEngine('berth serve with SSH (docker)', () => describe('berth serve with SSH (docker)', () => {
  const prefix = runPrefix();
  let dataDir: string;
  let scratch: ReturnType<typeof scratchDir>;
  let key: ClientKey;
  let env: Record<string, string>;
  let sshPort: number;
  let base: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-serve-ssh-'));
    scratch = scratchDir();
    key = makeKey(scratch.dir, 'alice');
    const httpPort = await freeLoopbackPort();
    sshPort = await freeLoopbackPort();
    base = `http://127.0.0.1:${httpPort}`;
    env = {
      BERTH_DATA_DIR: dataDir,
      BERTH_PUBLIC_URL: base,
      BERTH_LISTEN_HTTP: `127.0.0.1:${httpPort}`,
      BERTH_LISTEN_SSH: `127.0.0.1:${sshPort}`,
      BERTH_AUTH_MODE: 'header',
      BERTH_RUNTIME_KIND: 'docker',
      BERTH_RUNTIME_DOCKER_NAME_PREFIX: prefix,
      BERTH_RUNTIME_DOCKER_NETWORK: `${prefix}-net`,
      BERTH_ENVIRONMENT_IMAGE: DEBIAN,
      BERTH_ENVIRONMENT_COMMAND: '[python3, -m, http.server, "${PORT}"]',
    };
  });
  after(async () => {
    await removeByPrefix(prefix, [`${prefix}-net`]);
    rmSync(dataDir, { recursive: true, force: true });
    scratch.remove();
  });

  const hostKeysLogged = (gateway: Served) => {
    const listening = gateway.lines.find((l) => l.msg === 'ssh gateway listening');
    assert.ok(listening, 'the SSH listener is logged');
    return listening.fingerprints as string[];
  };
  const ssh = (command: string): [string, string[]] => ['ssh', [...clientOptions(key), '-p', String(sshPort), 'alice@127.0.0.1', '--', command]];

  it('serves SSH with keys from the API, logs the host keys, keeps them across a restart and tells sessions about SIGTERM', { timeout: 120_000 }, async () => {
    const first = await berthServe([], env);
    try {
      const fingerprints = hostKeysLogged(first);
      assert.equal(fingerprints.length, 2);

      assert.equal((await run(...ssh('true'))).code, 255, 'no key registered yet');
      const added = await httpRequest(`${base}/_berth/api/me/keys`, {
        method: 'POST',
        headers: { 'X-Forwarded-Preferred-Username': 'alice', 'content-type': 'application/json' },
        body: JSON.stringify({ key: key.publicKey }),
      });
      assert.equal(added.status, 201, added.body);

      const result = await run(...ssh('echo hi; echo err >&2; exit 3'), { timeoutMs: 60_000 });
      assert.equal(result.code, 3, result.stderr);
      assert.equal(result.stdout, 'hi\n');
      assert.match(result.stderr, /^berth: starting your environment…[\s\S]*ready in \d+\.\d s\nerr\n$/);

      const info = spawnSync(process.execPath, [...CLI, 'ssh-info'], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
      assert.equal(info.status, 0, info.stderr);
      for (const fingerprint of fingerprints) assert.ok(info.stdout.includes(fingerprint), `ssh-info shows ${fingerprint}`);

      const session = background(...ssh('echo started; sleep 60'));
      await until(() => session.output().stdout.includes('started'), 'the session to start', 30_000);
      assert.equal(await stopServe(first, 'SIGTERM'), 0, first.output());
      const ended = await session.ended;
      assert.match(ended.stderr, /berth: the gateway is shutting down\./);

      const second = await berthServe([], env);
      try {
        assert.deepEqual(hostKeysLogged(second), fingerprints, 'the same host keys after a restart');
        const again = await run(...ssh('echo "$BERTH_USER"'), { timeoutMs: 60_000 });
        assert.equal(again.stdout, 'alice\n', again.stderr);
      } finally {
        assert.equal(await stopServe(second, 'SIGTERM'), 0, second.output());
      }
    } finally {
      await stopServe(first, 'SIGKILL');
    }
  });
}));

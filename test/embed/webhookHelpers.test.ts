import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAuthWebhookHandler, createBerth, createConfigWebhookHandler, type AuthAttempt, type ConfigRequest } from '../../src/index.js';
import { BUSYBOX, DOCKER, removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import { httpRequest } from '../helpers/http.js';
import { makeKey, run, scratchDir, sshArgs, startGateway, type ClientKey, type Gateway } from '../ssh/harness.js';

/*
 * The webhook helpers as the servers Berth's own clients call (the clients'
 * tests against a hand-written server are in test/ssh/auth.test.ts and
 * test/profiles/dockerProfiles.test.ts): real OpenSSH through the gateway's
 * SSH front against createAuthWebhookHandler, and a berth container whose
 * image createConfigWebhookHandler chose.
 */

async function serve(handler: Parameters<typeof createServer>[0] & object): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('createAuthWebhookHandler behind a real gateway', () => {
  let gateway: Gateway;
  let hook: Server;
  let scratch: ReturnType<typeof scratchDir>;
  let alice: ClientKey;
  let stranger: ClientKey;
  const attempts: Array<AuthAttempt & { kind: string }> = [];
  const askpass = (name: string, password: string) => {
    const file = join(scratch.dir, name);
    writeFileSync(file, `#!/bin/sh\necho ${JSON.stringify(password)}\n`);
    chmodSync(file, 0o755);
    return file;
  };
  const withPassword = (user: string, script: string) =>
    run(
      'ssh',
      sshArgs(gateway, null, user, 'echo "$BERTH_USER"', ['-o', 'BatchMode=no', '-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password', '-o', 'NumberOfPasswordPrompts=1']),
      { env: { ...process.env, SSH_ASKPASS: script, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: 'none' } },
    );

  before(async () => {
    scratch = scratchDir();
    alice = makeKey(scratch.dir, 'alice');
    stranger = makeKey(scratch.dir, 'stranger');
    const served = await serve(
      createAuthWebhookHandler({
        onPassword: ({ password, ...attempt }) => {
          attempts.push({ ...attempt, kind: 'password' });
          return password === 'open sesame' ? { success: true, ...(attempt.username === 'login-name' ? { authenticatedUsername: 'dora' } : {}) } : false;
        },
        onPublicKey: ({ publicKey, ...attempt }) => {
          attempts.push({ ...attempt, kind: 'pubkey' });
          return attempt.username === 'alice' && publicKey === alice.publicKey.split(' ').slice(0, 2).join(' ');
        },
      }),
    );
    hook = served.server;
    gateway = await startGateway((config) => {
      config.ssh.webhook.url = `${served.url}/auth`;
    });
  });
  after(async () => {
    await gateway.close();
    hook.close();
    scratch.remove();
  });

  it('lets ssh in with the password it accepts, as the user it names, and denies a wrong password', { timeout: 90_000 }, async () => {
    const good = await withPassword('login-name', askpass('good', 'open sesame'));
    assert.equal(good.stdout, 'dora\n', good.stderr);
    const bad = await withPassword('alice', askpass('bad', 'guess'));
    assert.equal(bad.code, 255);
    assert.match(bad.stderr, /Permission denied/);
    const asked = attempts.filter((a) => a.kind === 'password');
    assert.deepEqual(asked.map((a) => a.username), ['login-name', 'alice']);
    for (const attempt of asked) {
      assert.match(attempt.remoteAddress, /^127\.0\.0\.1:\d+$/);
      assert.match(attempt.clientVersion, /^SSH-2\.0-OpenSSH/);
      assert.match(attempt.connectionId, /^[0-9a-f]{32}$/);
    }
  });

  it('lets a key in that onPublicKey accepts and denies another', { timeout: 60_000 }, async () => {
    const good = await run('ssh', sshArgs(gateway, alice, 'alice', 'echo "$BERTH_USER"'));
    assert.equal(good.stdout, 'alice\n', good.stderr);
    const bad = await run('ssh', sshArgs(gateway, stranger, 'alice', 'true'));
    assert.equal(bad.code, 255);
  });

  it('answers what is not the protocol with a clear error and denies', async () => {
    const { server, url } = await serve(createAuthWebhookHandler({ onPassword: () => true }));
    after(() => server.close());
    const notJson = await httpRequest(`${url}/password`, { method: 'POST', body: 'username=alice' });
    assert.equal(notJson.status, 400);
    assert.match(JSON.parse(notJson.body).error, /not JSON/);
    const elsewhere = await httpRequest(`${url}/keyboard-interactive`, { method: 'POST', body: '{"username":"alice"}' });
    assert.equal(elsewhere.status, 404);
    const noKeyCallback = await httpRequest(`${url}/pubkey`, { method: 'POST', body: '{"username":"alice","publicKey":"ssh-ed25519 AAAA"}' });
    assert.deepEqual(JSON.parse(noKeyCallback.body), { success: false }, 'a kind without a callback is refused');
    const get = await httpRequest(`${url}/password`);
    assert.equal(get.status, 405);
  });
});

await withEngine('createConfigWebhookHandler on docker', () => {
  describe('createConfigWebhookHandler choosing the image of an embedded gateway\'s berth', () => {
    const prefix = runPrefix();
    const image = `${prefix}-chosen:latest`;
    const dir = mkdtempSync(join(tmpdir(), 'berth-config-hook-'));
    const asked: ConfigRequest[] = [];
    let hook: Server;

    before(async () => {
      execFileSync('docker', ['tag', BUSYBOX, image]);
      hook = (
        await serve(
          createConfigWebhookHandler((request) => {
            asked.push(request);
            return request.username === 'dora' ? { config: { backend: 'docker', docker: { execution: { container: { image, env: ['CHOSEN=by-webhook'] } } } } } : null;
          }),
        )
      ).server;
    });
    after(async () => {
      hook.close();
      await removeByPrefix(prefix, [`${prefix}-net`], DOCKER);
      execFileSync('docker', ['rmi', '-f', image]);
      rmSync(dir, { recursive: true, force: true });
    });

    it('runs the berth from the image the answer names, and only for the user it names', { timeout: 180_000 }, async () => {
      const berth = createBerth({
        dataDir: join(dir, 'data'),
        listen: { http: '127.0.0.1:0', ssh: null },
        log: { level: 'warn' },
        auth: { mode: 'header' },
        runtime: { kind: 'docker', docker: { namePrefix: prefix, network: `${prefix}-net` } },
        environment: { image: BUSYBOX, command: ['sh', '-c', 'mkdir -p /w && echo "$BERTH_USER ${CHOSEN:-default}" > /w/index.html && exec httpd -f -p "$PORT" -h /w'] },
        spawn: { stopGraceSeconds: 1 },
        configWebhook: { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/config` },
      });
      const { http } = await berth.start();
      try {
        const as = (user: string) => httpRequest(`http://127.0.0.1:${http.port}/`, { headers: { 'X-Forwarded-Preferred-Username': user }, timeoutMs: 90_000 });
        assert.equal((await as('dora')).body.trim(), 'dora by-webhook');
        assert.equal((await as('erin')).body.trim(), 'erin default');
        const imageOf = (user: string) => execFileSync('docker', ['inspect', '-f', '{{.Config.Image}}', `${prefix}-${user}`], { encoding: 'utf8' }).trim();
        assert.equal(imageOf('dora'), image);
        assert.equal(imageOf('erin'), BUSYBOX);
        const dora = asked.find((request) => request.username === 'dora');
        assert.ok(dora, 'the webhook was asked for dora');
        assert.equal(dora.authenticatedUsername, 'dora');
        assert.equal(dora.berth?.protocol, 'http');
      } finally {
        await berth.stop({ graceSeconds: 2 });
      }
    });
  });
});

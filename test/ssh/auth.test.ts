import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { authorize, logged, makeKey, run, scratchDir, sshArgs, startGateway, type ClientKey, type Gateway } from './harness.js';
import { forEachRuntime, WITHOUT_PODMAN } from './runtimes.js';

interface HookCall {
  path: string;
  body: Record<string, string>;
}

await forEachRuntime((runtime) => {
  describe(`ssh authentication with keys (${runtime.kind})`, () => {
    let gateway: Gateway;
    let scratch: ReturnType<typeof scratchDir>;
    let alice: ClientKey;
    let bob: ClientKey;
    let stranger: ClientKey;
    let carolRsa: ClientKey;

    before(async () => {
      scratch = scratchDir();
      const keysDir = join(scratch.dir, 'authorized');
      mkdirSync(keysDir);
      alice = makeKey(scratch.dir, 'alice');
      bob = makeKey(scratch.dir, 'bob');
      stranger = makeKey(scratch.dir, 'stranger');
      carolRsa = makeKey(scratch.dir, 'carol', { type: 'rsa' });
      // carol's file: her RSA key, and bob's key behind an option the gateway cannot enforce.
      writeFileSync(join(keysDir, 'carol'), `# carol\n${carolRsa.publicKey}\nfrom="10.9.9.9" ${bob.publicKey}\n`);
      gateway = await startGateway((config) => {
        config.ssh.authorizedKeysDir = keysDir;
      }, runtime);
      await authorize(gateway, 'alice', alice);
      await authorize(gateway, 'bob', bob);
    });
    after(async () => {
      await gateway.close();
      scratch.remove();
    });

    const whoami = (key: ClientKey, user: string) => run('ssh', sshArgs(gateway, key, user, 'echo "$BERTH_USER"'));

    it('lets a user in with a stored key, into their own berth', async () => {
      const result = await whoami(alice, 'alice');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'alice\n');
    });

    it('refuses a key registered for nobody', async () => {
      const result = await whoami(stranger, 'alice');
      assert.equal(result.code, 255);
      assert.match(result.stderr, /Permission denied \(publickey\)/);
      assert.ok(logged(gateway, 'auth_key_unknown').some((r) => r.user === 'alice'));
      assert.equal(gateway.parts.spawner.status('alice').state === 'starting', false);
    });

    it("does not let bob's key open alice's berth", async () => {
      const result = await whoami(bob, 'alice');
      assert.equal(result.code, 255);
      assert.match(result.stderr, /Permission denied/);
      assert.equal((await whoami(bob, 'bob')).stdout, 'bob\n');
    });

    it('takes keys from authorized_keys files (RSA with rsa-sha2 signatures too), skipping lines with options', async () => {
      assert.equal((await whoami(carolRsa, 'carol')).stdout, 'carol\n');
      const withOption = await whoami(bob, 'carol');
      assert.equal(withOption.code, 255, 'a key restricted by from= must not be taken without the restriction');
    });

    it('disconnects after too many failed attempts', async () => {
      const keys = Array.from({ length: 8 }, (_, i) => makeKey(scratch.dir, `many${i}`));
      const before = logged(gateway, 'auth_key_unknown').length;
      const [first, ...rest] = keys as [ClientKey, ...ClientKey[]];
      const result = await run('ssh', [...rest.flatMap((k) => ['-i', k.path]), ...sshArgs(gateway, first, 'alice', 'true')]);
      assert.equal(result.code, 255);
      assert.equal(logged(gateway, 'auth_key_unknown').length - before, 6);
      assert.ok(gateway.logs.some((r) => r.msg === 'too many failed ssh authentication attempts; disconnecting'));
    });

    it('turns away a client that insists on SHA-1 RSA host key signatures', async () => {
      const result = await run('ssh', sshArgs(gateway, alice, 'alice', 'true', ['-o', 'HostKeyAlgorithms=ssh-rsa']));
      assert.equal(result.code, 255);
      assert.ok(logged(gateway, 'weak_algorithm').length > 0);
    });

    it('offers only modern algorithms', async () => {
      // (MACs need no case: with only AEAD ciphers offered, none is ever negotiated.)
      for (const option of ['Ciphers=aes128-ctr', 'KexAlgorithms=diffie-hellman-group14-sha256', 'KexAlgorithms=ecdh-sha2-nistp256']) {
        const result = await run('ssh', sshArgs(gateway, alice, 'alice', 'true', ['-o', option]));
        assert.equal(result.code, 255, `${option} must not be negotiable`);
      }
    });

    it('never logs key material', () => {
      const text = JSON.stringify(gateway.logs);
      for (const key of [alice, bob, stranger, carolRsa]) assert.equal(text.includes(key.publicKey.split(' ')[1] as string), false);
    });
  });

  describe(`ssh authentication through a ContainerSSH-style webhook (${runtime.kind})`, () => {
    let gateway: Gateway;
    let scratch: ReturnType<typeof scratchDir>;
    let hook: Server;
    let alice: ClientKey;
    let other: ClientKey;
    const calls: HookCall[] = [];
    let askpass: string;

    before(async () => {
      scratch = scratchDir();
      alice = makeKey(scratch.dir, 'alice');
      other = makeKey(scratch.dir, 'other');
      hook = createServer(async (req: IncomingMessage, res) => {
        let text = '';
        for await (const chunk of req) text += chunk;
        const body = JSON.parse(text) as Record<string, string>;
        calls.push({ path: req.url ?? '', body });
        let answer: Record<string, unknown> = { success: false };
        if (req.url === '/auth/pubkey' && body.username === 'alice' && body.publicKey === alice.publicKey.split(' ').slice(0, 2).join(' ')) {
          answer = { success: true };
        }
        if (req.url === '/auth/password' && Buffer.from(body.passwordBase64 ?? '', 'base64').toString() === 'open sesame') {
          answer = { success: true, ...(body.username === 'login-name' ? { authenticatedUsername: 'dora' } : {}) };
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      }).listen(0, '127.0.0.1');
      await new Promise((resolve) => hook.once('listening', resolve));
      const { port } = hook.address() as AddressInfo;
      gateway = await startGateway((config) => {
        config.ssh.webhook.url = `http://127.0.0.1:${port}/auth/`;
      }, runtime);
      askpass = join(scratch.dir, 'askpass');
      writeFileSync(askpass, '#!/bin/sh\necho "open sesame"\n');
      chmodSync(askpass, 0o755);
    });
    after(async () => {
      await gateway.close();
      hook.close();
      scratch.remove();
    });

    const withPassword = (user: string, script: string) =>
      run(
        'ssh',
        sshArgs(gateway, null, user, 'echo "$BERTH_USER"', [
          '-o', 'BatchMode=no', '-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password', '-o', 'NumberOfPasswordPrompts=1',
        ]),
        { env: { ...process.env, SSH_ASKPASS: script, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: 'none' } },
      );

    it('grants a key the webhook accepts, with the fields ContainerSSH sends', async () => {
      const result = await run('ssh', sshArgs(gateway, alice, 'alice', 'echo "$BERTH_USER"'));
      assert.equal(result.stdout, 'alice\n', result.stderr);
      const call = calls.find((c) => c.path === '/auth/pubkey' && c.body.username === 'alice');
      assert.ok(call);
      assert.deepEqual(Object.keys(call.body).sort(), ['clientVersion', 'connectionId', 'publicKey', 'remoteAddress', 'username']);
      assert.match(call.body.remoteAddress as string, /^127\.0\.0\.1:\d+$/);
      assert.match(call.body.clientVersion as string, /^SSH-2\.0-OpenSSH/);
      assert.match(call.body.connectionId as string, /^[0-9a-f]{32}$/);
    });

    it('denies a key the webhook refuses', async () => {
      const result = await run('ssh', sshArgs(gateway, other, 'alice', 'true'));
      assert.equal(result.code, 255);
      assert.match(result.stderr, /Permission denied/);
    });

    it('checks passwords only through the webhook, and uses its authenticatedUsername', async () => {
      const good = await withPassword('login-name', askpass);
      assert.equal(good.stdout, 'dora\n', good.stderr);
      const call = calls.find((c) => c.path === '/auth/password');
      assert.equal(call?.body.passwordBase64, Buffer.from('open sesame').toString('base64'));

      const wrong = join(scratch.dir, 'wrong');
      writeFileSync(wrong, '#!/bin/sh\necho "guess"\n');
      chmodSync(wrong, 0o755);
      const bad = await withPassword('alice', wrong);
      assert.equal(bad.code, 255);
      assert.ok(logged(gateway, 'auth_password_denied').length > 0);
      assert.equal(JSON.stringify(gateway.logs).includes('open sesame'), false, 'a password reached the log');
      assert.equal(JSON.stringify(gateway.logs).includes('guess'), false, 'a password reached the log');
    });

    it('denies when the webhook is unreachable', async () => {
      const url = gateway.config.ssh.webhook.url;
      gateway.config.ssh.webhook.url = 'http://127.0.0.1:1/';
      try {
        await gateway.restart();
        const result = await run('ssh', sshArgs(gateway, alice, 'alice', 'true'));
        assert.equal(result.code, 255);
      } finally {
        gateway.config.ssh.webhook.url = url;
        await gateway.restart();
      }
    });
  });
}, WITHOUT_PODMAN);

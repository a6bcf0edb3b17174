import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { DESKTOP, launchBrowser, newPage } from '../browser/harness.js';
import { DEBIAN, ENGINES, removeByPrefix, withEngine, type TestEngine } from '../helpers/docker.js';
import { eventually, httpRequest } from '../helpers/http.js';
import { berthServe, stopServe, type Served } from '../helpers/serve.js';
import { background, clientOptions, makeKey, run, scratchDir, type ClientKey, type Scratch } from '../ssh/harness.js';

/*
 * Attach mode as an operator runs it: `berth serve` from a YAML file with
 * runtime.kind attach, in front of containers this test starts with the
 * engine's own CLI (`docker run --label berth.user=alice --label
 * berth.attach=true`), as whatever manages them would. Reached with
 * OpenSSH's ssh and sftp and with Chromium; alice's key is the one in her
 * container's /home/alice/.ssh/authorized_keys, read through the engine's
 * archive API. The same file runs on each engine.
 */

const WEB = 'mkdir -p /tmp/www && echo "hello from $(hostname)" > /tmp/www/index.html && exec python3 -m http.server 8080 -d /tmp/www';
const TEST_MS = 60_000;

function attachSuites(on: TestEngine): Promise<void> {
  const prefix = `b18a-${randomBytes(4).toString('hex')}`;
  const cli = (...args: string[]) => execFileSync(on.cli[0] as string, [...on.cli.slice(1), ...args], { encoding: 'utf8', timeout: 60_000 }).trim();
  /** `docker run -d` of a Debian container labeled for `user`; resolves with its id. */
  const runLabeled = (name: string, user: string, labels: string[], command = WEB) =>
    cli('run', '-d', '--name', `${prefix}-${name}`, '--label', `berth.user=${user}`, '--label', 'berth.attach=true', ...labels.flatMap((l) => ['--label', l]), DEBIAN, 'sh', '-c', command);
  const running = (id: string) => cli('inspect', '--format', '{{.State.Running}}', id) === 'true';
  const hostnameOf = (id: string) => cli('inspect', '--format', '{{.Config.Hostname}}', id);

  return withEngine(`attach gateway on ${on.kind}`, () => {
    describe(`attach: berth serve in front of containers labeled on ${on.kind}`, { timeout: 240_000 }, () => {
      let scratch: Scratch;
      let gateway: Served;
      let sshPort: number;
      let browser: Browser;
      let alice: ClientKey;
      let bob: ClientKey;
      let mallory: ClientKey;
      let aliceId: string;
      let bobId: string;
      let configFile = '';

      const ssh = (key: ClientKey, user: string, command: string) =>
        run('ssh', [...clientOptions(key), '-p', String(sshPort), `${user}@127.0.0.1`, '--', command], { input: '' });
      const asAlice = { headers: { 'X-Forwarded-Preferred-Username': 'alice' } };
      /** The audit events of `kind` in audit.file, as the gateway wrote them. */
      const audited = (kind: string) =>
        readFileSync(join(scratch.dir, 'audit.jsonl'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { kind: string; target: string | null; detail: Record<string, unknown> })
          .filter((e) => e.kind === kind);
      const logged = (msg: string, fields: Record<string, unknown> = {}) =>
        gateway.lines.filter((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v));

      before(async () => {
        scratch = scratchDir();
        [alice, bob, mallory] = ['alice', 'bob', 'mallory'].map((name) => makeKey(scratch.dir, name)) as [ClientKey, ClientKey, ClientKey];
        bobId = runLabeled('bob-1', 'bob', [`berth.authorizedKeys=${bob.publicKey}`]);
        sshPort = await freeLoopbackPort();
        configFile = join(scratch.dir, 'berth.yaml');
        writeFileSync(
          configFile,
          [
            `dataDir: ${join(scratch.dir, 'data')}`,
            `listen: { ssh: "127.0.0.1:${sshPort}" }`,
            'log: { level: info }',
            'auth: { mode: header }',
            `runtime: { kind: attach, docker: { socket: "${on.socket}" } }`,
            'attach: { keySources: [files, label] }',
            'idle: { stopAfterSeconds: 2, checkEverySeconds: 1 }',
            `audit: { file: ${join(scratch.dir, 'audit.jsonl')} }`,
            '',
          ].join('\n'),
        );
        gateway = await berthServe(['--config', configFile], {});
        // Started after the gateway, so her first login is what finds it (bob's is adopted at start).
        aliceId = runLabeled('alice-1', 'alice', ['berth.port=8080']);
        cli('exec', '-e', `KEY=${alice.publicKey}`, aliceId, 'sh', '-c', 'mkdir -p /home/alice/.ssh && printf "%s\\n" "$KEY" > /home/alice/.ssh/authorized_keys && chmod 600 /home/alice/.ssh/authorized_keys');
        browser = await launchBrowser();
      });

      after(async () => {
        await browser?.close();
        if (gateway) await stopServe(gateway, 'SIGKILL');
        await removeByPrefix(prefix, [], on);
        scratch?.remove();
      });

      it('lets alice in with the key in her container\'s /home/alice/.ssh/authorized_keys, into that container, audited with its id and image', { timeout: TEST_MS }, async () => {
        const result = await ssh(alice, 'alice', 'hostname; echo "user=$BERTH_USER"');
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout.split('\n')[0], hostnameOf(aliceId));
        const audit = logged('attach: berth attached to a running container', { user: 'alice', containerId: aliceId });
        assert.ok(audit.length >= 1, 'the attach is logged with the container id');
        assert.ok(String(audit[0]?.image).endsWith(DEBIAN), `the image: ${String(audit[0]?.image)}`);
        assert.equal(logged('ssh authentication accepted', { berthUser: 'alice', source: 'berth files' }).length >= 1, true);
        const started = await eventually(async () => audited('spawn.started').find((e) => e.target === 'alice'), 10_000, 'the audit event of the attach');
        assert.equal(started.detail.runtimeId, aliceId);
        assert.ok(String(started.detail.image).endsWith(DEBIAN));
      });

      it('refuses a key her container does not list, and an authorized_keys line with options, with a log line naming the file', { timeout: TEST_MS }, async () => {
        assert.equal((await ssh(mallory, 'alice', 'true')).code, 255);
        cli('exec', '-e', `KEY=${mallory.publicKey}`, aliceId, 'sh', '-c', 'printf "command=\\"true\\" %s\\n" "$KEY" >> /home/alice/.ssh/authorized_keys');
        const refused = await ssh(mallory, 'alice', 'true');
        assert.equal(refused.code, 255);
        assert.match(refused.stderr, /Permission denied/);
        assert.ok(gateway.lines.some((l) => l.msg === 'authorized_keys line skipped: options are not supported, or the key is unsupported or weak' && String(l.origin).startsWith('/home/alice/.ssh/authorized_keys in container')));
        assert.equal((await ssh(mallory, 'bob', 'true')).code, 255, "mallory's key is in no container of bob");
      });

      it('lets bob in with the key in his container\'s berth.authorizedKeys label', { timeout: TEST_MS }, async () => {
        const result = await ssh(bob, 'bob', 'hostname');
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout.trim(), hostnameOf(bobId));
        assert.equal((await ssh(bob, 'alice', 'true')).code, 255, "bob's label lets him into no one else's berth");
      });

      it('moves files into her container and back with sftp', { timeout: TEST_MS }, async () => {
        const local = join(scratch.dir, 'up.txt');
        writeFileSync(local, 'carried by sftp\n');
        const batch = join(scratch.dir, 'batch');
        writeFileSync(batch, `put ${local} /tmp/up.txt\nget /tmp/up.txt ${join(scratch.dir, 'down.txt')}\n`);
        const result = await run('sftp', [...clientOptions(alice), '-P', String(sshPort), '-b', batch, 'alice@127.0.0.1']);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(cli('exec', aliceId, 'cat', '/tmp/up.txt'), 'carried by sftp');
        assert.equal(readFileSync(join(scratch.dir, 'down.txt'), 'utf8'), 'carried by sftp\n');
      });

      it('serves the port her container names in berth.port to Chromium', { timeout: TEST_MS }, async () => {
        const { context, page } = await newPage(browser, DESKTOP, 'light', { 'X-Forwarded-Preferred-Username': 'alice' });
        await page.goto(`${gateway.base}/`);
        await page
          .getByText(`hello from ${hostnameOf(aliceId)}`)
          .waitFor({ timeout: 20_000 })
          .catch(async (err: Error) => assert.fail(`${err.message}; the page shows: ${await page.content()}`));
        await context.close();
      });

      const culls = () => logged('berth stopped', { user: 'alice', why: 'idle' }).length;
      const stateOfAlice = async () => (JSON.parse((await httpRequest(`${gateway.base}/_berth/api/me`, asAlice)).body) as { berth: { state: string } }).berth.state;

      it('forgets an idle berth without stopping its container, and attaches again at the next login', { timeout: TEST_MS }, async () => {
        assert.equal((await ssh(alice, 'alice', 'true')).code, 0);
        const before = culls();
        await eventually(async () => (culls() > before ? true : undefined), 20_000, 'the culler to stop alice');
        assert.equal(await stateOfAlice(), 'stopped');
        assert.equal(running(aliceId), true, 'the culler left her container running');
        const again = await ssh(alice, 'alice', 'hostname');
        assert.equal(again.stdout.trim(), hostnameOf(aliceId));
      });

      it('refuses alice, naming both containers, once a second one carries her labels: in ssh, the API and on the loading page', { timeout: TEST_MS }, async () => {
        const secondId = runLabeled('alice-2', 'alice', ['berth.port=8080']);
        // Once her berth is forgotten (idle), the next attach finds two.
        await eventually(async () => ((await stateOfAlice()) !== 'ready' ? true : undefined), 20_000, 'the culler to forget alice');
        const reason = new RegExp(`2 running containers carry the labels berth\\.user=alice and berth\\.attach=true \\(.*${prefix}-alice-\\d.*${prefix}-alice-\\d.*\\); Berth attaches to exactly one`);
        const refused = await ssh(alice, 'alice', 'true');
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, reason);
        const me = await httpRequest(`${gateway.base}/_berth/api/me`, asAlice);
        assert.match(me.body, reason);
        const { context, page } = await newPage(browser, DESKTOP, 'light', { 'X-Forwarded-Preferred-Username': 'alice' });
        await page.goto(`${gateway.base}/`);
        await page.locator('#reason').getByText(/2 running containers carry the labels berth\.user=alice/).waitFor({ timeout: 20_000 });
        await context.close();
        assert.equal(running(aliceId) && running(secondId), true, 'both keep running');
      });

      it('gives bob a pty, copies with scp, and forwards -L to a port inside his container', { timeout: TEST_MS }, async () => {
        const pty = await run('ssh', ['-tt', ...clientOptions(bob), '-p', String(sshPort), 'bob@127.0.0.1', 'tty'], { input: '' });
        assert.match(pty.stdout, /^\/dev\/pts\/\d+\r?\n/, pty.stderr);
        const local = join(scratch.dir, 'scp.txt');
        writeFileSync(local, 'carried by scp\n');
        const copied = await run('scp', [...clientOptions(bob), '-P', String(sshPort), local, 'bob@127.0.0.1:/tmp/scp.txt']);
        assert.equal(copied.code, 0, copied.stderr);
        assert.equal(cli('exec', bobId, 'cat', '/tmp/scp.txt'), 'carried by scp');
        const port = await freeLoopbackPort();
        const forward = background('ssh', [...clientOptions(bob), '-p', String(sshPort), '-N', '-L', `${port}:localhost:8080`, 'bob@127.0.0.1']);
        try {
          const reply = await eventually(
            () => httpRequest(`http://127.0.0.1:${port}/`).then((r) => (r.status === 200 ? r : undefined), () => undefined),
            20_000,
            'the -L port to answer',
          );
          assert.equal(reply.body.trim(), `hello from ${hostnameOf(bobId)}`);
        } finally {
          await forward.stop();
        }
      });

      it('sees at once an attached container its owner stops or removes: the session is told and closed, the dashboard shows it gone, the container is left as it is', { timeout: TEST_MS }, async () => {
        const carol = makeKey(scratch.dir, 'carol');
        const { context, page } = await newPage(browser, DESKTOP, 'light', { 'X-Forwarded-Preferred-Username': 'carol' });
        const endsUnder = async (id: string, end: () => void, how: RegExp) => {
          const session = background('ssh', [...clientOptions(carol), '-p', String(sshPort), 'carol@127.0.0.1', '--', 'echo ready; exec sleep 600']);
          await eventually(async () => (session.output().stdout.includes('ready') ? true : undefined), 30_000, "carol's session").catch((err: Error) => {
            throw new Error(`${err.message}: ${session.output().stderr}`);
          });
          end();
          // Well before ssh's own keepalive or the sleep could end it: the engine's event did.
          const ended = await Promise.race([session.ended, new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000))]);
          assert.ok(ended, 'the session was closed');
          assert.equal(ended.code, 255, ended.stderr);
          assert.match(ended.stderr, new RegExp(`berth: your environment stopped \\(it died: .*its container ${prefix}-carol-\\d ${how.source} outside Berth\\)`));
          const me = JSON.parse((await httpRequest(`${gateway.base}/_berth/api/me`, { headers: { 'X-Forwarded-Preferred-Username': 'carol' } })).body) as { berth: { state: string; failure: { reason: string } | null } };
          assert.equal(me.berth.state, 'failed');
          assert.match(me.berth.failure?.reason ?? '', how);
          await page.goto(`${gateway.base}/_berth/`);
          await page.locator('#failure-reason').getByText(how).waitFor({ timeout: 10_000 });
          assert.match((await page.locator('#state').textContent()) ?? '', /fail/i);
        };
        const firstId = runLabeled('carol-1', 'carol', [`berth.authorizedKeys=${carol.publicKey}`]);
        await endsUnder(firstId, () => cli('stop', '-t', '1', firstId), /stopped/);
        assert.equal(running(firstId), false);
        assert.equal(cli('inspect', '--format', '{{.State.Status}}', firstId), 'exited', 'Berth left the stopped container where its owner put it');
        const secondId = runLabeled('carol-2', 'carol', [`berth.authorizedKeys=${carol.publicKey}`]);
        await endsUnder(secondId, () => cli('rm', '-f', secondId), /stopped|was removed/);
        assert.equal(cli('inspect', '--format', '{{.State.Status}}', firstId), 'exited', 'and started nothing of its own');
        await context.close();
      });

      it('leaves every container running after the gateway stops; started again, it adopts bob\'s, logged with its id and image, and not alice\'s two', { timeout: TEST_MS }, async () => {
        assert.equal(await stopServe(gateway, 'SIGTERM'), 0);
        assert.deepEqual([aliceId, bobId].map(running), [true, true]);
        gateway = await berthServe(['--config', configFile], {});
        await eventually(async () => (logged('adopted running berths').length > 0 ? true : undefined), 20_000, 'adoption');
        // Only this test's users: other containers on the engine may carry the default labels too.
        const adopted = logged('adopted running berth').filter((l) => l.user === 'alice' || l.user === 'bob');
        assert.deepEqual(adopted.map((l) => [l.user, l.runtimeId]), [['bob', bobId]]);
        assert.ok(String(adopted[0]?.image).endsWith(DEBIAN));
        const audit = await eventually(async () => audited('spawn.adopted').find((e) => e.target === 'bob'), 10_000, 'the audit event of the adoption');
        assert.equal(audit.detail.runtimeId, bobId);
        assert.equal(await stopServe(gateway, 'SIGTERM'), 0);
        assert.equal(running(bobId), true);
      });
    });
  }, on);
}

for (const on of ENGINES) await attachSuites(on);

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { DEBIAN, ENGINES, removeByPrefix, runPrefix, withEngine, type TestEngine } from '../helpers/docker.js';
import { clientOptions, makeKey, run, scratchDir, type Scratch } from '../ssh/harness.js';
import { gatewayWithProvider, launchBrowser, newPage, screenshot, signInAt, type BrowserGateway } from './harness.js';

/*
 * The sign-in → loading → app flow with berths as containers on each engine
 * (Docker, Podman's API service), from the Debian test image
 * (scripts/build-test-images.sh), then OpenSSH's ssh and sftp into the same
 * berth with a key added on the dashboard. Skips locally without an engine;
 * fails in CI (CI=true), where .ci/run starts both.
 */

const COMMAND = JSON.stringify([
  'sh',
  '-c',
  'mkdir -p /tmp/www && echo "<!doctype html><title>debian</title><h1>Hello from debian, $BERTH_USER</h1>" > /tmp/www/index.html && exec python3 -m http.server "$PORT" -d /tmp/www',
]);

function browserSuites(on: TestEngine): Promise<void> {
  const prefix = runPrefix();
  const network = `${prefix}-net`;

  return withEngine(`browser: ${on.kind} runtime`, () => {
    describe(`browser: sign in, loading page, app, then ssh and sftp (${on.kind} runtime)`, () => {
      let browser: Browser;
      let gw: BrowserGateway;
      let page: Page;
      let scratch: Scratch;
      before(async () => {
        scratch = scratchDir();
        browser = await launchBrowser();
        page = (await newPage(browser)).page;
        gw = await gatewayWithProvider({
          env: {
            BERTH_RUNTIME_KIND: 'docker',
            BERTH_RUNTIME_DOCKER_SOCKET: on.socket,
            BERTH_RUNTIME_DOCKER_NAME_PREFIX: prefix,
            BERTH_RUNTIME_DOCKER_NETWORK: network,
            BERTH_RUNTIME_DOCKER_REACH: 'network',
            BERTH_ENVIRONMENT_IMAGE: DEBIAN,
            BERTH_ENVIRONMENT_COMMAND: COMMAND,
          },
        });
      });
      after(async () => {
        await browser?.close();
        await gw?.close();
        await removeByPrefix(prefix, [network], on);
        scratch?.remove();
      });

      it('signs in through the provider and watches the loading page turn into the container app', async () => {
        await page.goto(`${gw.base}/`);
        await signInAt(page, 'dora');
        await page.getByRole('heading', { name: 'Starting your environment' }).waitFor();
        await screenshot(page, `loading-${on.kind}`);
        await page.getByRole('heading', { name: 'Hello from debian, dora' }).waitFor();
        await page.goto(`${gw.base}/_berth/`);
        await page.locator('#state', { hasText: 'Running' }).waitFor();
        assert.equal(await page.locator('#image').innerText(), DEBIAN);
      });

      it('lets the key added on the dashboard into the same berth with ssh and sftp', async () => {
        const key = makeKey(scratch.dir, 'dora');
        await page.getByLabel('Add a public key').fill(key.publicKey);
        await page.getByRole('button', { name: 'Add key' }).click();
        await page.locator('#key-list li', { hasText: 'dora@test' }).waitFor();
        const command = await page.locator('#ssh-command').innerText();
        const port = /^ssh -p (\d+) dora@127\.0\.0\.1$/.exec(command)?.[1];
        assert.ok(port, `the dashboard's SSH command: ${command}`);
        const target = ['-P', port, 'dora@127.0.0.1'];

        const container = await on.client.getContainer(`${prefix}-dora`).inspect();
        const shell = await run('ssh', [...clientOptions(key), '-p', port, 'dora@127.0.0.1', '--', 'echo "$BERTH_USER on $(hostname)" > "$HOME/from-ssh"; cat "$HOME/from-ssh"']);
        assert.equal(shell.code, 0, shell.stderr);
        assert.equal(shell.stdout, `dora on ${container.Config.Hostname}\n`, 'the shell runs in the container the browser started');

        const upload = join(scratch.dir, 'upload.txt');
        writeFileSync(upload, `sent over sftp to ${on.kind}\n`);
        const download = join(scratch.dir, 'from-ssh');
        const batch = `put ${upload} uploaded.txt\nget from-ssh ${download}\n`;
        const sftp = await run('sftp', ['-b', '-', ...clientOptions(key), ...target], { input: batch });
        assert.equal(sftp.code, 0, sftp.stderr);
        assert.equal(readFileSync(download, 'utf8'), `dora on ${container.Config.Hostname}\n`);
        const check = await run('ssh', [...clientOptions(key), '-p', port, 'dora@127.0.0.1', '--', 'cat "$HOME/uploaded.txt"']);
        assert.equal(check.stdout, `sent over sftp to ${on.kind}\n`);
      });
    });
  });
}

for (const on of ENGINES) await browserSuites(on);

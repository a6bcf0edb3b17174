import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { runPrefix } from '../helpers/docker.js';
import { makeCertificate, nginxMissing } from '../proxies/nginx.js';
import { CHROMIUM, launchBrowser, newPage } from './harness.js';

/*
 * Chromium fails a navigation with ERR_NETWORK_CHANGED when an address on
 * any interface comes or goes while it is still connecting, which the suites
 * running alongside cause whenever they make a container network (a CI run
 * lost a TLS suite to it). Chromium and an HTTPS server that holds one
 * handshake share a network namespace of the test's own, where the test adds
 * and removes an address at that moment: a bare page fails, a harness page
 * loads.
 */

const run = promisify(execFile);
const namespace = `${runPrefix()}-nav`;
const ip = (...args: string[]) => run('ip', ['-n', namespace, ...args]);
const skip = process.getuid?.() !== 0 ? 'needs root to make a network namespace' : (nginxMissing() ?? false);

describe('pages reload a navigation Chromium failed with ERR_NETWORK_CHANGED', { skip, timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-network-changed-'));
  let server: ChildProcessWithoutNullStreams;
  let lines: AsyncIterator<string>;
  let url = '';
  let browser: Browser;

  before(async () => {
    await run('ip', ['netns', 'add', namespace]);
    await ip('link', 'set', 'lo', 'up');
    const { cert, key } = makeCertificate(dir, ['localhost']);
    server = spawn('ip', ['netns', 'exec', namespace, process.execPath, '--import', 'tsx', join(import.meta.dirname, 'fixtures', 'heldHandshake.ts'), cert, key]);
    lines = createInterface({ input: server.stdout })[Symbol.asyncIterator]();
    const { port } = JSON.parse((await lines.next()).value as string) as { port: number };
    url = `https://127.0.0.1:${port}/`;
    const inNamespace = join(dir, 'chromium-in-namespace');
    writeFileSync(inNamespace, `#!/bin/sh\nexec ip netns exec ${namespace} ${CHROMIUM} "$@"\n`);
    chmodSync(inNamespace, 0o755);
    browser = await launchBrowser(['--ignore-certificate-errors'], inNamespace);
  });

  after(async () => {
    await browser?.close();
    if (server && server.exitCode === null) {
      server.kill();
      await once(server, 'exit');
    }
    await run('ip', ['netns', 'del', namespace]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Navigates `page` while the server holds the handshake, changing the namespace's addresses once it does. */
  async function navigateAcrossANetworkChange(page: Page) {
    server.stdin.write('hold\n');
    const navigation = page.goto(url).then(
      (reply) => reply?.status(),
      (error: Error) => error,
    );
    assert.equal((await lines.next()).value, 'held');
    await ip('addr', 'add', '127.0.0.77/32', 'dev', 'lo');
    await ip('addr', 'del', '127.0.0.77/32', 'dev', 'lo');
    return navigation;
  }

  it('fails a bare page, as Chromium does', async () => {
    const page = await browser.newPage();
    const outcome = await navigateAcrossANetworkChange(page);
    assert.match(String(outcome), /net::ERR_NETWORK_CHANGED/);
    await page.close();
  });

  it("loads the page the harness opens, as a person's reload would", async () => {
    const { context, page } = await newPage(browser);
    assert.equal(await navigateAcrossANetworkChange(page), 200);
    assert.equal(await page.title(), 'served');
    await context.close();
  });
});

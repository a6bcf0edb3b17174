import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { runPrefix } from '../helpers/docker.js';
import { makeCertificate, opensslMissing } from '../proxies/nginx.js';
import { CHROMIUM, launchBrowser, newPage } from './harness.js';

/*
 * Chromium fails whatever is still connecting with ERR_NETWORK_CHANGED when an
 * address comes or goes on any interface it can see, and the suites running
 * alongside make container networks all the time (a CI run lost a TLS suite
 * to it). Here an HTTPS server holds one handshake while the test does what
 * an engine does when it makes a network: a bridge of the test's own appears
 * with an address, then goes. A Chromium on the machine's network fails; the
 * harness's, in a network namespace of its own, loads the page.
 */

const run = promisify(execFile);
const link = `${runPrefix()}d`;
// An address in 198.18.0.0/15, set aside for network tests.
const address = `198.${18 + randomInt(2)}.${randomInt(256)}.${1 + randomInt(254)}/32`;
/** How long the harness's Chromium is given to fail the held connection; the bare one fails it at once. */
const HELD_MS = 3_000;
const skip = process.getuid?.() !== 0 ? 'needs root to add a network link, as an engine does' : (opensslMissing() ?? false);

describe("Chromium kept apart from the machine's network changes (ERR_NETWORK_CHANGED)", { skip, timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-network-changed-'));
  let tls: HttpsServer;
  let front: Server;
  let url = '';
  /** Resolves when the next connection arrives, which is then never answered. */
  let holdNext: (() => void) | null = null;

  before(async () => {
    const { cert, key } = makeCertificate(dir, ['localhost']);
    tls = createHttpsServer({ cert: readFileSync(cert), key: readFileSync(key) }, (_request, response) => {
      response.setHeader('content-type', 'text/html');
      response.end('<!doctype html><title>served</title>');
    });
    front = createServer((socket) => {
      socket.on('error', () => socket.destroy());
      if (holdNext === null) return tls.emit('connection', socket);
      holdNext();
      holdNext = null;
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(front.address() as AddressInfo).port}/`;
  });

  after(async () => {
    await run('ip', ['link', 'del', link]).catch(() => undefined);
    front.close();
    tls.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What the page's navigation came to, made while a network appears and goes. */
  async function navigateAcrossANetworkChange(browser: Browser): Promise<number | string | undefined> {
    const { context, page } = await newPage(browser);
    const held = new Promise<void>((resolve) => (holdNext = resolve));
    const navigation = page.goto(url, { timeout: HELD_MS }).then(
      async (reply) => (reply?.status() === 200 ? await page.title() : reply?.status()),
      (error: Error) => error.message,
    );
    await held;
    await run('ip', ['link', 'add', link, 'type', 'bridge']);
    await run('ip', ['addr', 'add', address, 'dev', link]);
    await run('ip', ['link', 'set', link, 'up']);
    await run('ip', ['link', 'del', link]);
    holdNext = null;
    const outcome = await navigation;
    await context.close();
    return outcome;
  }

  it("fails a navigation in a Chromium on the machine's network, as Chromium does", async () => {
    const bare = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--ignore-certificate-errors'] });
    try {
      assert.match(String(await navigateAcrossANetworkChange(bare)), /net::ERR_NETWORK_CHANGED/);
    } finally {
      await bare.close();
    }
  });

  it("carries the harness's Chromium through it: the held connection waits on, a reload is served", async () => {
    const browser = await launchBrowser(['--ignore-certificate-errors']);
    try {
      assert.match(String(await navigateAcrossANetworkChange(browser)), new RegExp(`Timeout ${HELD_MS}ms exceeded`), 'nothing failed the held connection');
      const { context, page } = await newPage(browser);
      await page.goto(url);
      assert.equal(await page.title(), 'served');
      await context.close();
    } finally {
      await browser.close();
    }
  });

  it("lets the harness's Chromium reach loopback only", async () => {
    const browser = await launchBrowser();
    try {
      const { page } = await newPage(browser);
      const elsewhere = await page.goto('http://192.0.2.1/').then(() => 'loaded', (error: Error) => error.message);
      assert.match(elsewhere, /net::ERR_SOCKS_CONNECTION_FAILED/);
    } finally {
      await browser.close();
    }
  });
});

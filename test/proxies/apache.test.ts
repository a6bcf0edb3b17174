import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, test } from 'node:test';
import type { Page } from 'playwright-core';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { pageWebSocket, seenBy, startBerthListening, type AppsServe } from '../browser/appsServe.js';
import { launchBrowser, newPage, screenshot } from '../browser/harness.js';
import { CLIENT_ID, CLIENT_SECRET, startTestProvider, type TestProvider } from '../helpers/oidcProvider.js';
import { berthServe, stopServe } from '../helpers/serve.js';
import { apacheMissing, SITE_CONF, startApache, type Apache } from './apache.js';

/*
 * ServiceHub's set-up: Apache httpd with mod_auth_openidc signs people in
 * against a real OpenID provider (oidc-provider) and passes the user to Berth
 * in header mode. Chromium signs in through Apache, lands in its berth, opens
 * a WebSocket, and opens an app host (which Apache passes on without its
 * sign-in; Berth's hand-off signs the browser in there). Names under
 * example.com resolve to loopback in Chromium only.
 */

const FIXTURE = fileURLToPath(new URL('../apps/fixtures/berthApp.mjs', import.meta.url));
const APPS_DOMAIN = 'apps.example.com';
const ws = (url: string) => url.replace(/^http/, 'ws');

const missing = apacheMissing();
if (missing && process.env.CI === 'true') {
  test('apache in front: apache2 and mod_auth_openidc are installed (CI)', () => assert.fail(missing));
} else if (missing) {
  test('apache in front', { skip: missing }, () => undefined);
} else {
  describe('Apache httpd + mod_auth_openidc in front, header mode (Chromium)', () => {
    let apps: AppsServe;
    let apache: Apache;
    let provider: TestProvider;
    let page: Page;
    let dataDir: string;

    before(async () => {
      const [apachePort, berthPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
      const gatewayUrl = `http://berth.example.com:${apachePort}`;
      provider = await startTestProvider({ gatewayUrl, redirectUris: [`${gatewayUrl}/oidc/callback`] });
      dataDir = mkdtempSync(join(tmpdir(), 'b19-apache-berth-'));
      const served = await berthServe([], {
        BERTH_LISTEN_HTTP: `127.0.0.1:${berthPort}`,
        BERTH_LISTEN_SSH: 'null',
        BERTH_PUBLIC_URL: gatewayUrl,
        BERTH_AUTH_MODE: 'header',
        BERTH_APPS_DOMAIN: APPS_DOMAIN,
        BERTH_ENVIRONMENT_COMMAND: JSON.stringify([process.execPath, FIXTURE]),
        BERTH_DATA_DIR: dataDir,
      });
      apache = await startApache(apachePort, {
        BERTH_LISTEN: `127.0.0.1:${apachePort}`,
        BERTH_HOST: 'berth.example.com',
        BERTH_APPS_DOMAIN: APPS_DOMAIN,
        BERTH_UPSTREAM: `127.0.0.1:${berthPort}`,
        OIDC_ISSUER: provider.issuer,
        OIDC_CLIENT_ID: CLIENT_ID,
        OIDC_CLIENT_SECRET: CLIENT_SECRET,
        OIDC_CRYPTO_PASSPHRASE: randomBytes(24).toString('hex'),
      });
      const browser = await launchBrowser();
      apps = {
        served,
        port: apachePort,
        gatewayUrl,
        appUrl: (user, appPort) => `http://${user}-${appPort}.${APPS_DOMAIN}:${apachePort}`,
        browser,
        close: async () => {
          await browser.close();
          await stopServe(served, 'SIGTERM');
        },
      };
      page = (await newPage(browser)).page;
    });
    after(async () => {
      await apps?.close();
      await apache?.close();
      await provider?.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('signs in at the provider through Apache and lands in the berth, with no identity header or Apache cookie reaching it', async () => {
      await page.goto(`${apps.gatewayUrl}/first`);
      await page.locator('input[name=login]').fill('ingrid');
      await page.locator('input[name=password]').fill('any password');
      await page.locator('button[type=submit]').click();
      await page.waitForURL(`${apps.gatewayUrl}/first`);
      await page.getByText('"user":"ingrid"').waitFor();
      await screenshot(page, 'apache-berth');
      const reached = (await seenBy(page, apps)).find((s) => s.url === '/first');
      assert.ok(reached, 'the request reached the berth');
      assert.equal(reached.headers['x-forwarded-preferred-username'], undefined, 'identity headers never reach a berth');
      assert.ok(!(reached.headers.cookie ?? '').includes('mod_auth_openidc'), `Apache's session cookie stays at Apache: ${reached.headers.cookie}`);
      assert.equal(reached.headers.host, `berth.example.com:${apps.port}`);
    });

    it("a user header the browser sends is overwritten by Apache's, not believed", async () => {
      const answer = await page.evaluate(async () => {
        const reply = await fetch('/forged', { headers: { 'X-Forwarded-Preferred-Username': 'mallory' } });
        return (await reply.json()) as { user: string };
      });
      assert.equal(answer.user, 'ingrid');
    });

    it('carries a WebSocket to the berth', async () => {
      await page.goto(`${apps.gatewayUrl}/page`);
      assert.deepEqual(await pageWebSocket(page, `${ws(apps.gatewayUrl)}/socket`), { opened: true, reply: '-:hello' });
      assert.ok((await seenBy(page, apps)).some((s) => s.upgrade === true && s.url === '/socket'));
    });

    it("opens an app host of the berth through Apache, signed in by Berth's hand-off, WebSocket included", async () => {
      const appPort = await freeLoopbackPort();
      await startBerthListening(page, apps, appPort);
      await page.goto(`${apps.appUrl('ingrid', appPort)}/mine`);
      await page.getByText('"user":"ingrid"').waitFor();
      assert.match(await page.content(), new RegExp(`"port":${appPort}`));
      assert.deepEqual(await pageWebSocket(page, `${ws(apps.appUrl('ingrid', appPort))}/app-socket`), { opened: true, reply: 'ingrid:hello' });
    });

    it("README shows deploy/apache/berth.conf as it is, the file this test runs", () => {
      const readme = readFileSync('README.md', 'utf8');
      const file = readFileSync(SITE_CONF, 'utf8');
      assert.ok(readme.includes(`\`\`\`apache\n${file}\`\`\``), 'README has the file as one apache block');
    });
  });
}

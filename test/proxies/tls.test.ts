import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, test } from 'node:test';
import type { Page } from 'playwright-core';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { dashboardApi, pageWebSocket, personSignedIn, seenBy, startBerthListening, type AppsServe } from '../browser/appsServe.js';
import { launchBrowser } from '../browser/harness.js';
import { berthServe, stopServe } from '../helpers/serve.js';
import { nginxMissing, startNginx, type Nginx } from './nginx.js';

/*
 * TLS in front: nginx with a certificate made here for the gateway's name and
 * the apps wildcard, the README's server block, publicUrl https://…, and
 * Chromium (told to accept the test certificate). The gateway's cookies get
 * Secure and the __Host- prefix, WebSockets and app hosts work over wss and
 * https, Strict-Transport-Security is left to the proxy, and X-Forwarded-Proto
 * comes from publicUrl: a client's (passed on by the proxy) is never believed.
 */

const FIXTURE = fileURLToPath(new URL('../apps/fixtures/berthApp.mjs', import.meta.url));
const HOST = 'berth.example.com';
const APPS_DOMAIN = 'apps.example.com';
const ws = (url: string) => url.replace(/^http/, 'ws');

const missing = nginxMissing();
if (missing && process.env.CI === 'true') {
  test('TLS proxy in front: nginx and openssl are installed (CI)', () => assert.fail(missing));
} else if (missing) {
  test('TLS proxy in front', { skip: missing }, () => undefined);
} else {
  describe('nginx with TLS in front, publicUrl https (Chromium)', () => {
    let apps: AppsServe;
    let nginx: Nginx;
    let page: Page;
    let dataDir: string;

    before(async () => {
      const [tlsPort, berthPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
      const gatewayUrl = `https://${HOST}:${tlsPort}`;
      dataDir = mkdtempSync(join(tmpdir(), 'b19-tls-berth-'));
      const served = await berthServe([], {
        BERTH_LISTEN_HTTP: `127.0.0.1:${berthPort}`,
        BERTH_LISTEN_SSH: 'null',
        BERTH_PUBLIC_URL: gatewayUrl,
        BERTH_AUTH_MODE: 'dev',
        BERTH_APPS_DOMAIN: APPS_DOMAIN,
        BERTH_ENVIRONMENT_COMMAND: JSON.stringify([process.execPath, FIXTURE]),
        BERTH_DATA_DIR: dataDir,
      });
      nginx = await startNginx(tlsPort, `127.0.0.1:${berthPort}`, [HOST, `*.${APPS_DOMAIN}`]);
      const browser = await launchBrowser(['--ignore-certificate-errors']);
      apps = {
        served,
        port: tlsPort,
        gatewayUrl,
        appUrl: (user, appPort) => `https://${user}-${appPort}.${APPS_DOMAIN}:${tlsPort}`,
        browser,
        close: async () => {
          await browser.close();
          await stopServe(served, 'SIGTERM');
        },
      };
      page = await personSignedIn(apps, 'ingrid');
    });
    after(async () => {
      await apps?.close();
      await nginx?.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('sets the session cookie Secure, host-only and __Host- prefixed, and no HSTS of its own', async () => {
      const cookies = await page.context().cookies(apps.gatewayUrl);
      const session = cookies.find((c) => c.name.endsWith('berth_session'));
      assert.ok(session, JSON.stringify(cookies));
      assert.equal(session.name, '__Host-berth_session');
      assert.equal(session.secure, true);
      assert.equal(session.path, '/');
      assert.equal(session.domain, HOST, 'host-only: no Domain attribute');
      const reply = await page.goto(`${apps.gatewayUrl}/_berth/`);
      assert.equal(reply?.status(), 200);
      assert.equal(reply?.headers()['strict-transport-security'], undefined, 'HSTS is the proxy\'s to send');
    });

    it("tells the berth https, from publicUrl, even when the client's own X-Forwarded-Proto says otherwise", async () => {
      // The berth starts here: the loading page, then the berth's own answer.
      await page.goto(`${apps.gatewayUrl}/page`);
      await page.getByText('"user":"ingrid"').waitFor();
      const answer = await page.evaluate(async () => {
        const reply = await fetch('/forged-proto', { headers: { 'X-Forwarded-Proto': 'http', 'X-Forwarded-Host': 'evil.example' } });
        return (await reply.json()) as { user: string; headers: Record<string, string> };
      });
      assert.equal(answer.user, 'ingrid');
      assert.equal(answer.headers['x-forwarded-proto'], 'https');
      assert.equal(answer.headers['x-forwarded-host'], `${HOST}:${apps.port}`);
    });

    it('carries a WebSocket over wss to the berth', async () => {
      await page.goto(`${apps.gatewayUrl}/page`);
      assert.deepEqual(await pageWebSocket(page, `${ws(apps.gatewayUrl)}/secure-socket`), { opened: true, reply: '-:hello' });
      assert.ok((await seenBy(page, apps)).some((s) => s.upgrade === true && s.url === '/secure-socket'));
    });

    it('opens an app host over https with its own __Host- cookie, WebSocket included', async () => {
      const appPort = await freeLoopbackPort();
      await startBerthListening(page, apps, appPort);
      await page.goto(`${apps.appUrl('ingrid', appPort)}/mine`);
      await page.getByText('"user":"ingrid"').waitFor();
      const appCookie = (await page.context().cookies(apps.appUrl('ingrid', appPort))).find((c) => c.name.endsWith('berth_app'));
      assert.equal(appCookie?.name, '__Host-berth_app');
      assert.equal(appCookie?.secure, true);
      assert.deepEqual(await pageWebSocket(page, `${ws(apps.appUrl('ingrid', appPort))}/app-socket`), { opened: true, reply: 'ingrid:hello' });
    });

    // Browsers honour Clear-Site-Data only over https, and clear "cookies" for the whole registrable domain.
    it("keeps ingrid signed in when another user's app she visits sends Clear-Site-Data \"cookies\" (berth clears visitor's cookies)", async () => {
      const malloryPort = await freeLoopbackPort();
      const mallory = await personSignedIn(apps, 'mallory');
      await startBerthListening(mallory, apps, malloryPort);
      assert.equal(await dashboardApi(mallory, apps, 'PUT', `/_berth/api/me/ports/${malloryPort}`, { share: 'public' }), 200);
      const before = (await page.context().cookies()).map((c) => `${c.name}@${c.domain}`).sort();
      assert.ok(before.includes(`__Host-berth_session@${HOST}`), before.join(', '));
      const reply = await page.goto(`${apps.appUrl('mallory', malloryPort)}/clear-site-data?types=${encodeURIComponent('"cookies", "cache"')}`);
      assert.equal(reply?.status(), 200);
      assert.deepEqual((await page.context().cookies()).map((c) => `${c.name}@${c.domain}`).sort(), before, "ingrid's cookies, the gateway's and her app host's, are all still there");
      assert.equal(await dashboardApi(page, apps, 'GET', '/_berth/api/me'), 200, 'and she is still signed in');
      assert.equal(await reply?.headerValue('clear-site-data'), '"cache"', 'what clears only her own origin is kept');
    });
  });
}

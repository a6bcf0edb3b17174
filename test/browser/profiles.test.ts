import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { gatewayWithProvider, launchBrowser, newPage, screenshot, signIn, WAIT_MS, type BrowserGateway } from './harness.js';

// A berth that says which profile it was made from.
const PROFILE_SERVER = JSON.stringify([
  process.execPath,
  '-e',
  "require('http').createServer((q,s)=>{s.setHeader('content-type','text/html');s.end('<!doctype html><title>App</title><p id=made>profile='+process.env.PROFILE+'</p>')}).listen(+process.env.PORT,'127.0.0.1')",
]);

const PROFILES = JSON.stringify([
  { slug: 'course', displayName: 'Course', description: 'The course environment', default: true, overrides: { env: { PROFILE: 'course' } } },
  { slug: 'gpu', displayName: 'GPU node', description: 'One GPU for research', allowedGroups: ['research'], overrides: { env: { PROFILE: 'gpu' } } },
]);

describe('browser: picking a profile on the loading page and the dashboard', () => {
  let browser: Browser;
  let gw: BrowserGateway;
  let webhook: Server;
  before(async () => {
    browser = await launchBrowser();
    // A ContainerSSH config server (POST of the connection's metadata, {"config": …} back): down for wendy, silent for sam.
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        const { username } = JSON.parse(body) as { username: string };
        if (username === 'sam') return;
        res.writeHead(username === 'wendy' ? 503 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(username === 'wendy' ? { error: 'maintenance' } : { config: {} }));
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    gw = await gatewayWithProvider({
      env: {
        BERTH_PROFILES: PROFILES,
        BERTH_ENVIRONMENT_COMMAND: PROFILE_SERVER,
        BERTH_AUTH_ADMINS: '[rita]',
        BERTH_CONFIG_WEBHOOK_URL: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/config`,
        BERTH_CONFIG_WEBHOOK_TIMEOUT_SECONDS: '2',
        // Long enough for a loaded machine to start a berth, short enough to wait out the failing webhooks.
        BERTH_SPAWN_TIMEOUT_SECONDS: '15',
      },
      // The provider's groups claim is where the gateway learns who is in "research".
      claims: (login) => ({ preferred_username: login, email: `${login}@example.test`, groups: login === 'rita' ? ['research'] : ['students'] }),
    });
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    webhook?.closeAllConnections();
    webhook?.close();
  });

  it('asks a first start with two profiles which one, and starts the one picked', async () => {
    const { page } = await newPage(browser);
    await signIn(page, gw.base, 'rita', '/');
    await page.getByRole('heading', { name: 'Choose your environment' }).waitFor();
    assert.equal(await page.locator('#steps').isVisible(), false, 'nothing is starting before the pick');
    await page.locator('li[data-profile="gpu"]', { hasText: 'One GPU for research' }).waitFor();
    await page.locator('li[data-profile="course"]', { hasText: 'The course environment' }).waitFor();
    await screenshot(page, 'profiles-loading-choice');
    await page.getByLabel('GPU node').check();
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page.locator('#made', { hasText: 'profile=gpu' }).waitFor({ timeout: WAIT_MS * 2 });
  });

  it('starts the only profile open to someone at once, and lists no other on their dashboard', async () => {
    const { page } = await newPage(browser);
    await signIn(page, gw.base, 'bob', '/');
    await page.locator('#made', { hasText: 'profile=course' }).waitFor({ timeout: WAIT_MS * 2 });
    await page.goto(`${gw.base}/_berth/`);
    await page.locator('#profile', { hasText: 'course' }).waitFor();
    assert.equal(await page.locator('li[data-profile]').count(), 1);
    assert.equal(await page.locator('li[data-profile="gpu"]').count(), 0, 'the research profile is not shown to students');
  });

  it('shows the current profile on the dashboard and the admin page, and switches profile from the dashboard', async () => {
    const { page } = await newPage(browser);
    await signIn(page, gw.base, 'rita');
    await page.locator('#profile', { hasText: 'gpu' }).waitFor();
    await page.goto(`${gw.base}/_berth/admin`);
    await page.locator('tr[data-user="rita"] .profile', { hasText: 'profile gpu' }).waitFor();
    await page.goto(`${gw.base}/_berth/`);
    await page.locator('#profiles').getByLabel('Course').check();
    await page.getByRole('button', { name: 'Start this profile' }).click();
    await page.locator('#profile', { hasText: 'course' }).waitFor({ timeout: WAIT_MS * 2 });
    await page.locator('#state', { hasText: 'Running' }).waitFor({ timeout: WAIT_MS * 2 });
    await screenshot(page, 'profiles-dashboard');
    await page.goto(`${gw.base}/`);
    await page.locator('#made', { hasText: 'profile=course' }).waitFor();
  });

  for (const [user, reason] of [
    ['wendy', /configuration service answered HTTP 503 \(\d+ attempts\)/],
    ['sam', /configuration service did not answer within \d\.\d s/],
  ] as const) {
    it(`shows on the loading page why a start failed when the config webhook ${user === 'sam' ? 'is too slow' : 'fails'}`, async () => {
      const { page } = await newPage(browser);
      await signIn(page, gw.base, user, '/');
      await page.getByRole('heading', { name: 'Your environment could not start' }).waitFor({ timeout: WAIT_MS * 2 });
      assert.match(await page.locator('#reason').innerText(), reason);
    });
  }
});

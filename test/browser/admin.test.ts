import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PHONE, gatewayWithProvider, launchBrowser, newPage, screenshot, signIn, type BrowserGateway } from './harness.js';

// Everyone's berth serves a page, except carol's, which fails at start.
const COMMAND = JSON.stringify([
  process.execPath,
  '-e',
  "if(process.env.BERTH_USER==='carol'){console.error('error: /data is not mounted');process.exit(2)}" +
    "require('http').createServer((q,s)=>{s.setHeader('content-type','text/html');s.end('<h1>Hello from the berth of '+process.env.BERTH_USER+'</h1>')}).listen(+process.env.PORT,'127.0.0.1')",
]);

describe('browser: the admin page (local runtime)', () => {
  let browser: Browser;
  let gw: BrowserGateway;
  const contexts: BrowserContext[] = [];
  const pages: Record<string, Page> = {};
  before(async () => {
    browser = await launchBrowser();
    gw = await gatewayWithProvider({
      env: { BERTH_ENVIRONMENT_COMMAND: COMMAND, BERTH_AUTH_OIDC_ADMIN_GROUPS: '[berth-admins]' },
      claims: (login) => ({ preferred_username: login, groups: login === 'root' ? ['berth-admins'] : ['staff'] }),
    });
    for (const user of ['bob', 'carol', 'root']) {
      const { context, page } = await newPage(browser);
      contexts.push(context);
      pages[user] = page;
    }
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('starts the berths of two users, one of which fails', async () => {
    await signIn(pages.bob!, gw.base, 'bob', '/');
    await pages.bob!.getByRole('heading', { name: 'Hello from the berth of bob' }).waitFor();
    await signIn(pages.carol!, gw.base, 'carol', '/');
    await pages.carol!.getByRole('heading', { name: 'Your environment could not start' }).waitFor();
  });

  it('refuses the admin page to someone who is not an admin', async () => {
    const reply = await pages.bob!.goto(`${gw.base}/_berth/admin`);
    assert.equal(reply?.status(), 403);
    await pages.bob!.getByRole('heading', { name: 'Not allowed' }).waitFor();
    assert.equal(await pages.bob!.getByRole('link', { name: 'Admin' }).count(), 0);
  });

  it('lists every berth for an admin (from the groups claim), with search and the spawn failure', async () => {
    const root = pages.root!;
    await signIn(root, gw.base, 'root', '/_berth/admin');
    await root.locator('tr[data-user=bob]', { hasText: 'Running' }).waitFor();
    await root.locator('tr[data-user=carol]', { hasText: 'Failed' }).waitFor();
    assert.match(await root.locator('tr[data-user=carol] .reason').innerText(), /exited/);
    assert.match(await root.locator('#failures-title + ul').innerText(), /carol/);
    await screenshot(root, 'admin');
    await root.getByLabel('Search by user').fill('car');
    await root.locator('#rows tr').first().waitFor();
    assert.deepEqual(await root.locator('#rows tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-user'))), ['carol']);
    await root.getByLabel('Search by user').fill('');
  });

  it("stops another user's berth", async () => {
    const root = pages.root!;
    await root.getByRole('button', { name: 'Stop the berth of bob' }).click();
    await root.locator('tr[data-user=bob]', { hasText: 'Stopped' }).waitFor();
    assert.match(await root.locator('#admin-flash').innerText(), /Stopped bob/);
    const me = await pages.bob!.request.get(`${gw.base}/_berth/api/me`);
    assert.equal(((await me.json()) as { berth: { state: string } }).berth.state, 'stopped');
  });

  it('fits a phone screen', async () => {
    const { context, page } = await newPage(browser, PHONE);
    try {
      await signIn(page, gw.base, 'root', '/_berth/admin');
      await page.locator('tr[data-user=carol]', { hasText: 'Failed' }).waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the admin page scrolls sideways by ${overflow}px`);
      await screenshot(page, 'admin');
    } finally {
      await context.close();
    }
  });
});

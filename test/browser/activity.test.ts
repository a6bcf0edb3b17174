import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { gatewayWithProvider, launchBrowser, newPage, screenshot, signIn, type BrowserGateway } from './harness.js';

/*
 * The Activity lists in Chromium: the admin page shows everyone's audit
 * events, the dashboard only the signed-in user's, both under the pages'
 * strict CSP (nothing is refused by it).
 */
describe('browser: the Activity lists (local runtime)', () => {
  let browser: Browser;
  let gw: BrowserGateway;
  let bob: Page;
  let root: Page;
  const cspViolations: string[] = [];

  before(async () => {
    browser = await launchBrowser();
    gw = await gatewayWithProvider({
      env: { BERTH_AUTH_OIDC_ADMIN_GROUPS: '[berth-admins]' },
      claims: (login) => ({ preferred_username: login, groups: login === 'root' ? ['berth-admins'] : ['staff'] }),
    });
    for (const [name, set] of [['bob', (p: Page) => (bob = p)], ['root', (p: Page) => (root = p)]] as const) {
      const { page } = await newPage(browser);
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) cspViolations.push(`${name}: ${message.text()}`);
      });
      set(page);
    }
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('shows the admin every user’s events, newest first', async () => {
    await signIn(bob, gw.base, 'bob', '/_berth/');
    const created = await bob.request.post(`${gw.base}/_berth/api/me/tokens`, {
      data: { scopes: ['api'], name: 'from-the-browser-test' },
      headers: { origin: gw.base, 'x-berth-csrf': (await bob.locator('meta[name=berth-csrf]').getAttribute('content')) ?? '' },
    });
    assert.equal(created.status(), 201);

    await signIn(root, gw.base, 'root', '/_berth/admin');
    const list = root.locator('#activity-list');
    await list.waitFor();
    await root.getByRole('heading', { name: 'Activity' }).waitFor();
    const kinds = await list.locator('li').evaluateAll((items) => items.map((li) => li.getAttribute('data-kind')));
    assert.equal(kinds[0], 'signin.succeeded', 'root signing in is the newest');
    assert.ok(kinds.includes('token.created'), `bob's token is listed: ${kinds.join(', ')}`);
    assert.match(await list.locator('li[data-kind="token.created"]').innerText(), /bob via oidc from 127\.0\.0\.1/);
    assert.match(await list.locator('li[data-kind="token.created"]').innerText(), /name: from-the-browser-test/);
    assert.equal(await list.locator('li[data-kind="signin.succeeded"]').count(), 2, 'both sign-ins');
    await screenshot(root, 'admin-activity');
  });

  it('shows a user only their own events on the dashboard', async () => {
    await bob.goto(`${gw.base}/_berth/`);
    const list = bob.locator('#activity-list');
    await list.waitFor();
    const text = await list.innerText();
    assert.match(text, /token\.created/);
    assert.doesNotMatch(text, /root/, "root's sign-in is not bob's activity");
    assert.deepEqual(cspViolations, []);
  });
});

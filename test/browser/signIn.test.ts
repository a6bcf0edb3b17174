import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { DESKTOP, PHONE, gatewayWithProvider, launchBrowser, newPage, screenshot, signIn, signInAt, slowServer, type BrowserGateway } from './harness.js';

describe('browser: sign in, loading page, app (local runtime)', () => {
  let browser: Browser;
  let gw: BrowserGateway;
  before(async () => {
    browser = await launchBrowser();
    gw = await gatewayWithProvider({ env: { BERTH_ENVIRONMENT_COMMAND: slowServer(2500) } });
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('signs in through the provider and watches the loading page turn into the app', async () => {
    const { context, page } = await newPage(browser);
    try {
      await page.goto(`${gw.base}/notebooks?x=1`);
      await page.getByRole('heading', { name: 'Sign in to Berth' }).waitFor();
      await screenshot(page, 'sign-in');
      await signInAt(page, 'alice');
      await page.getByRole('heading', { name: 'Starting your environment' }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/notebooks');
      await page.locator('#steps li.active .time', { hasText: /[1-9]\.\d s/ }).waitFor();
      await screenshot(page, 'loading');
      await page.getByRole('heading', { name: 'Hello from the berth of alice' }).waitFor();
      assert.equal(new URL(page.url()).search, '?x=1', 'back where the user was going');
    } finally {
      await context.close();
    }
  });

  it('looks right on a phone, in dark mode too', async () => {
    const phone = await newPage(browser, PHONE);
    try {
      await phone.page.goto(`${gw.base}/`);
      await phone.page.getByRole('heading', { name: 'Sign in to Berth' }).waitFor();
      await screenshot(phone.page, 'sign-in');
      const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
      await signInAt(phone.page, 'bob');
      await phone.page.getByRole('heading', { name: 'Starting your environment' }).waitFor();
      await screenshot(phone.page, 'loading');
      await phone.page.getByRole('heading', { name: 'Hello from the berth of bob' }).waitFor();
    } finally {
      await phone.context.close();
    }
    const dark = await newPage(browser, DESKTOP, 'dark');
    try {
      await dark.page.goto(`${gw.base}/_berth/login`);
      await screenshot(dark.page, 'sign-in-dark');
      const background = await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(background, 'rgb(13, 17, 23)', 'prefers-color-scheme: dark gives the dark palette');
    } finally {
      await dark.context.close();
    }
  });

  it('refuses a callback with a state this browser did not start, with a clear page', async () => {
    const { context, page } = await newPage(browser);
    try {
      await page.goto(`${gw.base}/_berth/login`);
      await page.getByRole('button', { name: 'Continue with single sign-on' }).click();
      await page.locator('input[name=login]').waitFor();
      const reply = await page.goto(`${gw.base}/_berth/oidc/callback?code=stolen-code&state=not-this-browsers`);
      assert.equal(reply?.status(), 400);
      await page.getByRole('heading', { name: 'Sign-in refused' }).waitFor();
      assert.match(await page.locator('[role=alert]').innerText(), /does not belong to the sign-in started in this browser/);
      await page.getByRole('link', { name: 'Sign in again' }).click();
      await page.getByRole('heading', { name: 'Sign in to Berth' }).waitFor();
      const me = await page.request.get(`${gw.base}/_berth/api/me`);
      assert.equal(me.status(), 401, 'no session was made');
    } finally {
      await context.close();
    }
  });

  it('is usable from the keyboard: tab to the sign-in button and press Enter', async () => {
    const { context, page } = await newPage(browser);
    try {
      await page.goto(`${gw.base}/_berth/login`);
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => document.activeElement?.textContent ?? '');
      assert.match(focused, /Continue with single sign-on|Skip to content/);
      await page.getByRole('button', { name: 'Continue with single sign-on' }).focus();
      await page.keyboard.press('Enter');
      await page.locator('input[name=login]').waitFor();
    } finally {
      await context.close();
    }
  });
});

describe('browser: a berth that fails to start (local runtime)', () => {
  let browser: Browser;
  let gw: BrowserGateway;
  const failing = JSON.stringify([
    process.execPath,
    '-e',
    "console.log('starting worker on port '+process.env.PORT);console.error('error: cannot open /home/berth/.config/app.toml: permission denied');process.exit(3)",
  ]);
  before(async () => {
    browser = await launchBrowser();
    gw = await gatewayWithProvider({ env: { BERTH_ENVIRONMENT_COMMAND: failing } });
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  for (const viewport of [DESKTOP, PHONE]) {
    it(`shows the failure with the last log lines and retries (${viewport.width}×${viewport.height})`, async () => {
      const { context, page } = await newPage(browser, viewport);
      try {
        await signIn(page, gw.base, viewport === DESKTOP ? 'alice' : 'bob', '/');
        await page.getByRole('heading', { name: 'Your environment could not start' }).waitFor();
        assert.match(await page.locator('#log').innerText(), /permission denied/);
        assert.match(await page.locator('#reason').innerText(), /exited/);
        await screenshot(page, 'failure');
        await page.getByRole('button', { name: 'Retry' }).click();
        await page.getByRole('heading', { name: 'Starting your environment' }).waitFor();
        await page.getByRole('heading', { name: 'Your environment could not start' }).waitFor();
      } finally {
        await context.close();
      }
    });
  }
});

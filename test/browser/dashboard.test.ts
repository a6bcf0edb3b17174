import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import ssh2 from 'ssh2';
import { PHONE, gatewayWithProvider, launchBrowser, newPage, screenshot, signIn, type BrowserGateway } from './harness.js';

async function stateIs(page: Page, label: string): Promise<void> {
  await page.locator('#state', { hasText: label }).waitFor();
}

describe('browser: the dashboard (local runtime)', () => {
  let browser: Browser;
  let gw: BrowserGateway;
  let page: Page;
  let elsewhere: Server;
  before(async () => {
    browser = await launchBrowser();
    gw = await gatewayWithProvider();
    page = (await newPage(browser)).page;
    await signIn(page, gw.base, 'alice');
    // Another origin on this machine (same site, other port): a page that posts to the gateway.
    elsewhere = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><form method="post" action="${gw.base}/_berth/api/me/stop"><button>Win a prize</button></form>`);
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    elsewhere?.close();
    await browser?.close();
    await gw?.close();
  });

  it('shows the berth stopped, starts it, and shows it running with its idle countdown', async () => {
    assert.equal(new URL(page.url()).pathname, '/_berth/');
    await stateIs(page, 'Stopped');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await stateIs(page, 'Running');
    await page.locator('#idle', { hasText: /\d/ }).waitFor();
    assert.match(await page.locator('#uptime').innerText(), /\d+ s/);
  });

  it('adds an SSH key and shows the SSH command with host key fingerprints', async () => {
    const key = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'alice@laptop' }).public;
    await page.getByLabel('Add a public key').fill(key);
    await page.getByRole('button', { name: 'Add key' }).click();
    await page.locator('#key-list li', { hasText: 'alice@laptop' }).waitFor();
    assert.match(await page.locator('#key-flash').innerText(), /Key added: SHA256:/);
    assert.match(await page.locator('#ssh-command').innerText(), /^ssh -p \d+ alice@127\.0\.0\.1$/);
    assert.equal(await page.locator('#ssh li', { hasText: /SHA256:\S+ \(ED25519\)/ }).count(), 1);
    await page.locator('#event-list li', { hasText: 'ready in' }).waitFor();
    await screenshot(page, 'dashboard');
    await page.screenshot({ path: 'test-artifacts/dashboard-full-1280.png', fullPage: true });
    await page.getByLabel('Add a public key').fill('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----');
    await page.getByRole('button', { name: 'Add key' }).click();
    await page.locator('#key-flash', { hasText: 'That is a private key' }).waitFor();
    await page.getByLabel('Add a public key').fill('');
  });

  it('refuses a state-changing request without the CSRF token, and one from another origin', async () => {
    const withoutToken = await page.evaluate(async () => {
      const res = await fetch('/_berth/api/me/stop', { method: 'POST' });
      return { status: res.status, body: await res.json() };
    });
    assert.equal(withoutToken.status, 403);
    assert.equal(withoutToken.body.error.code, 'csrf');

    const { context, page: other } = await newPage(browser);
    try {
      await context.addCookies(await page.context().cookies());
      await other.goto(`http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/`);
      await other.getByRole('button', { name: 'Win a prize' }).click();
      await other.getByText("did not come from Berth's own pages").waitFor();
    } finally {
      await context.close();
    }
    await page.reload();
    await stateIs(page, 'Running');
  });

  it('stops from the keyboard and starts again from the dashboard', async () => {
    await stateIs(page, 'Running');
    for (let i = 0; i < 40 && (await page.evaluate(() => document.activeElement?.id)) !== 'stop'; i++) await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'stop', 'Stop is reachable with Tab');
    await page.keyboard.press('Enter');
    await stateIs(page, 'Stopped');
    await page.locator('#event-list li', { hasText: 'stopped by alice' }).waitFor();
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await stateIs(page, 'Running');
    const app = await page.request.get(`${gw.base}/`, { headers: { accept: 'text/html' } });
    assert.match(await app.text(), /Welcome aboard, alice/);
  });

  it('fits a phone screen', async () => {
    const { context, page: phone } = await newPage(browser, PHONE);
    try {
      await signIn(phone, gw.base, 'alice');
      await stateIs(phone, 'Running');
      await phone.locator('#key-list li', { hasText: 'alice@laptop' }).waitFor();
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      const wide = await phone.evaluate(() =>
        [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
          .map((e) => `${e.tagName}#${e.id}.${e.className}`)
          .slice(0, 5),
      );
      assert.ok(overflow <= 0, `the dashboard scrolls sideways by ${overflow}px: ${wide.join(', ')}`);
      await screenshot(phone, 'dashboard');
      await phone.screenshot({ path: 'test-artifacts/dashboard-full-390.png', fullPage: true });
    } finally {
      await context.close();
    }
  });
});

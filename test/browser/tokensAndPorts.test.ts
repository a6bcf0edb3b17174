import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { PHONE, gatewayWithProvider, launchBrowser, newPage, screenshot, signIn, type BrowserGateway } from './harness.js';

/*
 * The dashboard's API token and port sections, against the token and port
 * API (GET/POST/DELETE /_berth/api/me/tokens, GET /_berth/api/me/ports,
 * PUT /_berth/api/me/ports/<port>). Needs that API in the gateway.
 */

describe('browser: API tokens and ports on the dashboard (local runtime)', () => {
  let browser: Browser;
  let gw: BrowserGateway;
  let page: Page;
  let extraPort: number;
  before(async () => {
    extraPort = await freeLoopbackPort();
    // The berth serves its main port and a second web service on another port.
    const command = JSON.stringify([
      process.execPath,
      '-e',
      "const h=require('http');for(const p of [+process.env.PORT,+process.env.EXTRA_PORT])h.createServer((q,s)=>s.end('port '+p)).listen(p,'127.0.0.1')",
    ]);
    browser = await launchBrowser();
    gw = await gatewayWithProvider({
      env: { BERTH_ENVIRONMENT_COMMAND: command, BERTH_ENVIRONMENT_ENV: JSON.stringify({ EXTRA_PORT: String(extraPort) }), BERTH_APPS_DOMAIN: 'apps.berth.test' },
    });
    page = (await newPage(browser)).page;
    await signIn(page, gw.base, 'alice');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page.locator('#state', { hasText: 'Running' }).waitFor();
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('creates an API token, shows it once, the token works, and revokes it', async () => {
    await page.getByLabel('Name').fill('ci script');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.locator('#new-token').innerText()).trim();
    assert.ok(token.length >= 20, 'the new token is shown');
    await page.locator('#token-list li', { hasText: 'ci script' }).waitFor();
    const me = await fetch(`${gw.base}/_berth/api/me`, { headers: { 'x-berth-token': token } });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { user: { name: string } }).user.name, 'alice');
    await screenshot(page, 'dashboard-tokens');
    await page.getByRole('button', { name: 'Revoke token ci script' }).click();
    await page.locator('#token-list li', { hasText: 'No tokens yet.' }).waitFor();
    const after = await fetch(`${gw.base}/_berth/api/me`, { headers: { 'x-berth-token': token } });
    assert.equal(after.status, 401);
  });

  it('lists the port the berth listens on and shares it with signed-in users', async () => {
    const row = page.locator('#port-list li', { hasText: `Port ${extraPort}` });
    await row.waitFor({ timeout: 40_000 });
    await row.getByLabel(`Who may open port ${extraPort}`).selectOption('users');
    await page.locator('#port-flash', { hasText: 'signed-in users' }).waitFor();
    const ports = await page.evaluate(async () => (await (await fetch('/_berth/api/me/ports')).json()) as { ports: Array<{ port: number; share: string }> });
    assert.equal(ports.ports.find((p) => p.port === extraPort)?.share, 'users');
    const { context, page: phone } = await newPage(browser, PHONE);
    try {
      await signIn(phone, gw.base, 'alice');
      await phone.locator('#port-list li', { hasText: `Port ${extraPort}` }).waitFor();
      await phone.locator('#ports').scrollIntoViewIfNeeded();
      await screenshot(phone, 'dashboard-ports');
    } finally {
      await context.close();
    }
  });
});

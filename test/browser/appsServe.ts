import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { serveWithApps, type ServedApps } from '../helpers/servedApps.js';
import { launchBrowser, newPage, WAIT_MS } from './harness.js';

/*
 * A real `berth serve` child process with app hosts, for Chromium: the
 * gateway at berth.example.com and apps under apps.example.com share the
 * registrable domain example.com, so app hosts and the gateway are
 * same-site (SameSite=Lax cookies travel between them) as in the README's
 * DNS example; .com, a listed public suffix, leaves no doubt what the site
 * is. Chromium resolves every *.example.com name to loopback, so
 * nothing leaves the machine (test/helpers/servedApps.ts has the rest).
 */

export const APPS_DOMAIN = 'apps.example.com';

export interface AppsServe extends ServedApps {
  browser: Browser;
}

export async function serveApps(env: Record<string, string> = {}): Promise<AppsServe> {
  const apps = await serveWithApps({ gatewayHost: 'berth.example.com', appsDomain: APPS_DOMAIN }, { BERTH_LOG_LEVEL: 'info', ...env });
  const browser = await launchBrowser();
  return {
    ...apps,
    browser,
    async close() {
      await browser.close();
      await apps.close();
    },
  };
}

/** A browser of its own for `who`, signed in on the gateway with the dev login form. */
export async function personSignedIn(apps: AppsServe, who: string): Promise<Page> {
  const { page } = await newPage(apps.browser);
  await page.goto(`${apps.gatewayUrl}/_berth/login?next=${encodeURIComponent('/_berth/')}`);
  await page.locator('#username').fill(who);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${apps.gatewayUrl}/_berth/`);
  return page;
}

/** What the page's own script gets from fetch(url) (same-origin or CORS-less reads are the test's business). */
export async function pageFetch(page: Page, url: string): Promise<{ status: number; body: string }> {
  return page.evaluate(async (target) => {
    const reply = await fetch(target, { credentials: 'include' });
    return { status: reply.status, body: await reply.text() };
  }, url);
}

/** A call of the gateway's API as its own dashboard makes it: from the gateway's origin, with the session's CSRF token. */
export async function dashboardApi(page: Page, apps: AppsServe, method: string, path: string, body?: unknown): Promise<number> {
  if (!page.url().startsWith(`${apps.gatewayUrl}/_berth/`)) await page.goto(`${apps.gatewayUrl}/_berth/`);
  return page.evaluate(
    async ({ method, path, body }) => {
      const csrf = document.querySelector('meta[name="berth-csrf"]')?.getAttribute('content') ?? '';
      const reply = await fetch(path, {
        method,
        headers: { 'content-type': 'application/json', 'x-berth-csrf': csrf },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return reply.status;
    },
    { method, path, body },
  );
}

/**
 * Opens a WebSocket from the page's own origin, as any script on it could,
 * sends one message and reports what came back, or how it failed.
 */
export async function pageWebSocket(page: Page, url: string): Promise<{ opened: boolean; reply: string | null }> {
  return page.evaluate(
    ({ target, waitMs }) =>
      new Promise((resolve) => {
        const ws = new WebSocket(target);
        let opened = false;
        let reply: string | null = null;
        const timer = setTimeout(() => ws.close(), waitMs);
        ws.onopen = () => {
          opened = true;
          ws.send('hello');
        };
        ws.onmessage = (event) => {
          reply = String(event.data);
          ws.close();
        };
        ws.onclose = () => {
          clearTimeout(timer);
          resolve({ opened, reply });
        };
      }),
    { target: url, waitMs: WAIT_MS / 2 },
  );
}

export interface Seen {
  port: number;
  url: string;
  headers: Record<string, string>;
  upgrade?: boolean;
}

/** The request and handshake heads the berth of the page's person received (the fixture's GET /seen on the main route). */
export async function seenBy(page: Page, apps: AppsServe): Promise<Seen[]> {
  const reply = await page.goto(`${apps.gatewayUrl}/seen`);
  assert.equal(reply?.status(), 200);
  return JSON.parse((await reply?.text()) ?? '[]') as Seen[];
}

/** Starts the berth of the page's person and has it listen on `port` as well (the fixture's GET /open). */
export async function startBerthListening(page: Page, apps: AppsServe, port: number): Promise<void> {
  assert.equal(await dashboardApi(page, apps, 'POST', '/_berth/api/me/start'), 202);
  // A fetch from an open tab is held while the berth starts, then proxied.
  const opened = await pageFetch(page, `${apps.gatewayUrl}/open?port=${port}`);
  assert.equal(opened.status, 200, opened.body);
}

export interface VisitorAndSharer {
  visitor: Page;
  sharer: Page;
  /** Ports each one's berth listens on; the sharer's is shared publicly. */
  visitorPort: number;
  sharerPort: number;
}

/**
 * Two people signed in, each with a started berth listening on a port of
 * its own, the sharer's shared publicly: the set-up of every attack from a
 * sibling app host the visitor is lured to.
 */
export async function visitorAndSharer(apps: AppsServe, visitorName: string, sharerName: string): Promise<VisitorAndSharer> {
  const [visitorPort, sharerPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
  const visitor = await personSignedIn(apps, visitorName);
  const sharer = await personSignedIn(apps, sharerName);
  await startBerthListening(visitor, apps, visitorPort);
  await startBerthListening(sharer, apps, sharerPort);
  assert.equal(await dashboardApi(sharer, apps, 'PUT', `/_berth/api/me/ports/${sharerPort}`, { share: 'public' }), 200);
  return { visitor, sharer, visitorPort, sharerPort };
}

/** The page's person signs in on the app host of `port` of their berth (the hand-off through the gateway), so their browser holds its app cookie. */
export async function signInOnOwnAppHost(page: Page, apps: AppsServe, who: string, port: number): Promise<void> {
  await page.goto(`${apps.appUrl(who, port)}/mine`);
  assert.match((await page.content()) ?? '', new RegExp(`"user":"${who}"`));
}

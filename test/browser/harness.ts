import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startGateway } from '../../src/cli/serve.js';
import type { Config } from '../../src/config/schema.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { testConfig } from '../helpers/gatewayParts.js';
import { CLIENT_ID, CLIENT_SECRET, startTestProvider, type TestProvider, type TestProviderOptions } from '../helpers/oidcProvider.js';

/*
 * Browser tests: Debian's Chromium, headless, driven by playwright-core,
 * against a real gateway (serve.ts) signing in through a real OpenID
 * provider on loopback. Nothing leaves the machine: every background
 * service of the browser is off.
 */

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Every wait in these tests is bounded by this unless it says otherwise. */
export const WAIT_MS = 20_000;
export const ARTIFACTS = join(process.cwd(), 'test-artifacts');

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/**
 * A fresh Chromium. playwright-core gives every launch a new, throw-away
 * user-data-dir of its own (it refuses one in args), and each context below
 * is a separate cookie jar: one per signed-in person. `extraArgs` such as
 * --host-resolver-rules give made-up host names to loopback; `executable`
 * is a wrapper that runs Chromium elsewhere (in a network namespace).
 */
export function launchBrowser(extraArgs: readonly string[] = [], executable = CHROMIUM): Promise<Browser> {
  return chromium.launch({ executablePath: executable, headless: true, args: [...ARGS, ...extraArgs], timeout: WAIT_MS });
}

/**
 * A fresh context (cookie jar) and a page in it. `headers` go with every
 * request, as an auth proxy's would in header mode. Every page the context
 * opens, this one and later ones, reloads on a changed network.
 */
export async function newPage(
  browser: Browser,
  viewport = DESKTOP,
  colorScheme: 'light' | 'dark' = 'light',
  headers: Record<string, string> = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, colorScheme, deviceScaleFactor: 1, extraHTTPHeaders: headers });
  context.setDefaultTimeout(WAIT_MS);
  context.on('page', reloadsOnNetworkChange);
  return { context, page: reloadsOnNetworkChange(await context.newPage()) };
}

const NETWORK_CHANGED = /net::ERR_NETWORK_CHANGED/;
const CHROMIUM_ERROR_PAGE = /^chrome-error:/;
const NAVIGATION_ATTEMPTS = 3;
const reloading = new WeakSet<Page>();

/*
 * Chromium fails a navigation still connecting with ERR_NETWORK_CHANGED
 * whenever any interface on the machine gains or loses an address, and the
 * suites running alongside make container networks and veths all the time.
 * Chromium has no switch to ignore that, and the request never reached the
 * server, so do what a person would: load the page again.
 */
function reloadsOnNetworkChange(page: Page): Page {
  if (reloading.has(page)) return page;
  reloading.add(page);
  const goto = page.goto.bind(page);
  page.goto = async (url, options) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await goto(url, options);
      } catch (error) {
        if (attempt === NAVIGATION_ATTEMPTS || !NETWORK_CHANGED.test(String(error))) throw error;
        // Chromium shows its error page next; loading again before that page commits is interrupted by it.
        await page.waitForURL(CHROMIUM_ERROR_PAGE);
      }
    }
  };
  return page;
}

/** Saves a full-page screenshot under test-artifacts/ for people to look at. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const size = page.viewportSize();
  await page.screenshot({ path: join(ARTIFACTS, `${name}-${size?.width}x${size?.height}.png`), fullPage: false });
}

export interface BrowserGateway {
  base: string;
  config: Config;
  provider: TestProvider;
  close(): Promise<void>;
}

/** The whole gateway (serve.ts) in oidc mode against a fresh test provider; `env` as BERTH_* overrides. */
export async function gatewayWithProvider(
  options: { env?: Record<string, string>; claims?: TestProviderOptions['claims']; publicPort?: number } = {},
): Promise<BrowserGateway> {
  const port = await freeLoopbackPort();
  // publicPort: the browser goes through something in front (a relay the test can cut) listening there.
  const base = `http://127.0.0.1:${options.publicPort ?? port}`;
  const provider = await startTestProvider({ gatewayUrl: base, ...(options.claims ? { claims: options.claims } : {}) });
  const config = testConfig({
    BERTH_LISTEN_HTTP: `127.0.0.1:${port}`,
    BERTH_PUBLIC_URL: base,
    BERTH_LISTEN_SSH: `127.0.0.1:${await freeLoopbackPort()}`,
    BERTH_AUTH_MODE: 'oidc',
    BERTH_AUTH_OIDC_ISSUER: provider.issuer,
    BERTH_AUTH_OIDC_CLIENT_ID: CLIENT_ID,
    BERTH_AUTH_OIDC_CLIENT_SECRET: CLIENT_SECRET,
    ...options.env,
  });
  const gateway = await startGateway({ config, file: null }, 'test');
  return {
    base,
    config,
    provider,
    async close() {
      await gateway.shutdown();
      await provider.close();
      rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}

/** From Berth's sign-in page through the provider's login form; ends wherever the gateway sends the browser next. */
export async function signInAt(page: Page, login: string): Promise<void> {
  await page.getByRole('button', { name: 'Continue with single sign-on' }).click();
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  await page.locator('button[type=submit]').click();
}

/** Opens `path` signed out, signs in as `login`, and waits to be back under the gateway. */
export async function signIn(page: Page, base: string, login: string, path = '/_berth/'): Promise<void> {
  await page.goto(`${base}${path}`);
  await signInAt(page, login);
  await page.waitForURL((url) => url.origin === base && !url.pathname.startsWith('/_berth/oidc/'));
}

/** A berth command for the local runtime: a Node web server that starts listening after `delayMs`. */
export function slowServer(delayMs: number): string {
  const script = `setTimeout(()=>require('http').createServer((q,s)=>{s.setHeader('content-type','text/html');s.end('<!doctype html><title>App</title><h1>Hello from the berth of '+process.env.BERTH_USER+'</h1>')}).listen(+process.env.PORT,'127.0.0.1'),${delayMs})`;
  return JSON.stringify([process.execPath, '-e', script]);
}

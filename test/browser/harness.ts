import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startGateway } from '../../src/cli/serve.js';
import type { Config } from '../../src/config/schema.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { testConfig } from '../helpers/gatewayParts.js';
import { startLoopbackSocks } from './apart/loopbackSocks.js';
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
 * is a separate cookie jar: one per signed-in person.
 *
 * Chromium runs in a network namespace of its own and reaches this machine's
 * loopback, and nothing else, through a SOCKS server (apart/): Chromium fails
 * whatever is connecting with ERR_NETWORK_CHANGED whenever an address comes
 * or goes on any interface it can see, and the suites alongside add and
 * remove container networks all the time (a CI run lost a TLS suite to it).
 * Every host name (berth.example.com, *.apps.test) is loopback, in there or,
 * where no namespace can be made, on the machine's network shared.
 */
export async function launchBrowser(extraArgs: readonly string[] = []): Promise<Browser> {
  const options = { headless: true, timeout: WAIT_MS };
  const unshare = unshareArguments();
  if (unshare === null) return chromium.launch({ ...options, executablePath: CHROMIUM, args: [...ARGS, '--host-resolver-rules=MAP * 127.0.0.1', ...extraArgs] });
  const dir = mkdtempSync(join(tmpdir(), 'berth-chromium-'));
  const socksSocket = join(dir, 'socks.sock');
  const socks = await startLoopbackSocks(socksSocket);
  const apart = join(dir, 'chromium-apart');
  const quoted = [...unshare, process.execPath, RELAY, socksSocket, String(RELAY_PORT), CHROMIUM].map((word) => `'${word}'`).join(' ');
  writeFileSync(apart, `#!/bin/sh\nexec unshare ${quoted} "$@"\n`, { mode: 0o755 });
  const cleanUp = async () => {
    await socks.close();
    rmSync(dir, { recursive: true, force: true });
  };
  const args = [...ARGS, `--proxy-server=socks5://127.0.0.1:${RELAY_PORT}`, '--proxy-bypass-list=<-loopback>', ...extraArgs];
  const browser = await chromium.launch({ ...options, executablePath: apart, args }).catch(async (error: unknown) => {
    await cleanUp();
    throw error;
  });
  browser.once('disconnected', () => void cleanUp());
  return browser;
}

const RELAY = join(import.meta.dirname, 'apart', 'relay.mjs');
/** Where apart/relay.mjs listens inside the namespace: any port, the namespace is Chromium's alone. */
const RELAY_PORT = 1080;
let unshareChecked: string[] | null | undefined;

/** unshare's arguments for a network namespace (and, not being root, a user namespace to make it in), or null if none can be made here. */
function unshareArguments(): string[] | null {
  if (unshareChecked !== undefined) return unshareChecked;
  const candidate = process.getuid?.() === 0 ? ['--net', '--'] : ['--user', '--map-root-user', '--net', '--'];
  const tried = spawnSync('unshare', [...candidate, 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' });
  unshareChecked = tried.status === 0 ? candidate : null;
  if (unshareChecked === null) console.error('# Chromium shares this machine\'s network: unshare could not make a network namespace, so a test may fail with ERR_NETWORK_CHANGED');
  return unshareChecked;
}

/** A fresh context (cookie jar) and a page in it. `headers` go with every request, as an auth proxy's would in header mode. */
export async function newPage(
  browser: Browser,
  viewport = DESKTOP,
  colorScheme: 'light' | 'dark' = 'light',
  headers: Record<string, string> = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, colorScheme, deviceScaleFactor: 1, extraHTTPHeaders: headers });
  context.setDefaultTimeout(WAIT_MS);
  return { context, page: await context.newPage() };
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

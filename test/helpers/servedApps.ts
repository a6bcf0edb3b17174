import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { httpRequest, type Reply } from './http.js';
import { berthServe, stopServe, type Served } from './serve.js';

/**
 * A real `berth serve` child process in dev mode with app hosts, its berths
 * running ../apps/fixtures/berthApp.mjs on the local runtime (it records every
 * request and handshake head it receives, GET /seen). Listens on loopback;
 * clients name the gateway or an app host in the Host header (or resolve
 * the names to loopback, as the browser harness's Chromium does).
 */
export interface ServedApps {
  served: Served;
  port: number;
  /** http://<gatewayHost>:<port>, its publicUrl. */
  gatewayUrl: string;
  appUrl(user: string, appPort: number): string;
  close(): Promise<void>;
}

const FIXTURE = fileURLToPath(new URL('../apps/fixtures/berthApp.mjs', import.meta.url));

export async function serveWithApps(names: { gatewayHost: string; appsDomain: string }, env: Record<string, string> = {}): Promise<ServedApps> {
  const port = await freeLoopbackPort();
  const gatewayUrl = `http://${names.gatewayHost}:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-served-apps-'));
  const served = await berthServe([], {
    BERTH_LISTEN_HTTP: `127.0.0.1:${port}`,
    BERTH_PUBLIC_URL: gatewayUrl,
    BERTH_LISTEN_SSH: 'null',
    BERTH_AUTH_MODE: 'dev',
    BERTH_APPS_DOMAIN: names.appsDomain,
    BERTH_ENVIRONMENT_COMMAND: JSON.stringify([process.execPath, FIXTURE]),
    BERTH_DATA_DIR: dataDir,
    BERTH_LOG_LEVEL: 'debug',
    ...env,
  });
  return {
    served,
    port,
    gatewayUrl,
    appUrl: (user, appPort) => `http://${user}-${appPort}.${names.appsDomain}:${port}`,
    async close() {
      await stopServe(served, 'SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One request to the listener with `url`'s host in the Host header, as a browser resolving it to loopback would send. */
export function requestTo(apps: ServedApps, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const target = new URL(url);
  return httpRequest(`http://127.0.0.1:${apps.port}${target.pathname}${target.search}`, { ...init, headers: { host: target.host, ...init.headers } });
}

/** Signs `who` in with the dev login form; the session cookie ("berth_session=…") to send. */
export async function devSession(apps: ServedApps, who: string): Promise<string> {
  const reply = await requestTo(apps, `${apps.gatewayUrl}/_berth/login`, {
    method: 'POST',
    headers: { origin: apps.gatewayUrl, 'content-type': 'application/x-www-form-urlencoded' },
    body: `username=${encodeURIComponent(who)}&next=%2F_berth%2F`,
  });
  assert.equal(reply.status, 303, reply.body);
  return String(reply.headers['set-cookie']).split(';')[0] as string;
}

/** A new Berth token of `who` with these scopes, made as the dashboard makes one (session cookie, Origin, CSRF token). */
export async function newToken(apps: ServedApps, session: string, scopes: string[]): Promise<string> {
  const dashboard = await requestTo(apps, `${apps.gatewayUrl}/_berth/`, { headers: { cookie: session, accept: 'text/html' } });
  const csrf = /<meta name="berth-csrf" content="([^"]+)"/.exec(dashboard.body)?.[1];
  assert.ok(csrf, 'the dashboard carries its CSRF token');
  const made = await requestTo(apps, `${apps.gatewayUrl}/_berth/api/me/tokens`, {
    method: 'POST',
    headers: { cookie: session, origin: apps.gatewayUrl, 'x-berth-csrf': csrf, 'content-type': 'application/json' },
    body: JSON.stringify({ scopes, expiresInSeconds: 3600, name: scopes.join('+') }),
  });
  assert.equal(made.status, 201, made.body);
  return (JSON.parse(made.body) as { token: string }).token;
}

export interface SignedInOnAppHost {
  /** The gateway's session cookie ("berth_session=…"). */
  session: string;
  /** An apps-scoped token of the same user. */
  token: string;
  /** A port the berth listens on, and the app cookie ("berth_app=…") of its app host. */
  appPort: number;
  appCookie: string;
}

/** `who` signed in on the gateway, their berth started and listening on a free port, and signed in on that port's app host. */
export async function signedInOnAppHost(apps: ServedApps, who: string): Promise<SignedInOnAppHost> {
  const appPort = await freeLoopbackPort();
  const session = await devSession(apps, who);
  const token = await newToken(apps, session, ['apps']);
  assert.equal((await requestTo(apps, `${apps.gatewayUrl}/open?port=${appPort}`, { headers: { cookie: session } })).status, 200);
  const landing = await requestTo(apps, `${apps.appUrl(who, appPort)}/?berth_token=${token}`);
  const appCookie = String(landing.headers['set-cookie']).split(';')[0] as string;
  assert.match(appCookie, /^berth_app=/);
  return { session, token, appPort, appCookie };
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import Provider from 'oidc-provider';

/*
 * A real OpenID provider (the oidc-provider package, as certified
 * implementations use) run in-process on loopback for the tests. Its
 * development login form accepts any login with any password and makes the
 * login the account id; consent is granted up front, as a first-party
 * provider would.
 */

export const CLIENT_ID = 'berth';
export const CLIENT_SECRET = 'test-client-secret-0f8e7d6c5b4a';
/** Registered with the same redirect URI: its tokens must never sign anyone in to Berth. */
export const OTHER_CLIENT_ID = 'other-app';
const OTHER_CLIENT_SECRET = 'other-client-secret-9a8b7c6d5e4f';

export interface TestProvider {
  issuer: string;
  /** When true, authorization and token requests from Berth are rewritten to the other client: Berth then receives its ID token. */
  impersonateOtherClient: boolean;
  close(): Promise<void>;
}

export interface TestProviderOptions {
  /** Berth's publicUrl: the redirect and post-logout URIs are registered under it. */
  gatewayUrl: string;
  /** Claims per login name; by default preferred_username is the login, no groups. */
  claims?: (login: string) => Record<string, unknown>;
  /** Listen on this port (a test that starts the gateway before the provider). */
  port?: number;
  /** Redirect URIs of a relying party other than Berth itself (an auth proxy in front, e.g. Apache mod_auth_openidc), instead of Berth's callback. */
  redirectUris?: string[];
  /**
   * Resets a connection that a request arrives on after it was idle this
   * long, as a provider closing it at that moment (its keep-alive timeout
   * running out) does: the client's request is lost, with no answer.
   */
  resetsConnectionsIdleForMs?: number;
}

export async function startTestProvider(options: TestProviderOptions): Promise<TestProvider> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const server = createServer((req, res) => handler(req, res));
  if (options.resetsConnectionsIdleForMs !== undefined) resetConnectionsIdleFor(server, options.resetsConnectionsIdleForMs);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const claimsFor = options.claims ?? ((login: string) => ({ preferred_username: login, email: `${login}@example.test` }));
  const client = (id: string, secret: string) => ({
    client_id: id,
    client_secret: secret,
    redirect_uris: options.redirectUris ?? [`${options.gatewayUrl}/_berth/oidc/callback`],
    post_logout_redirect_uris: [`${options.gatewayUrl}/_berth/login`],
  });
  const provider = new Provider(issuer, {
    clients: [client(CLIENT_ID, CLIENT_SECRET), client(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET)],
    cookies: { keys: ['test-provider-cookie-key'] },
    claims: { openid: ['sub'], profile: ['preferred_username', 'name', 'groups'], email: ['email'] },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id, ...claimsFor(id) }) }),
    // First-party: every client gets the scopes it asks for without a consent screen.
    loadExistingGrant: async (ctx: { oidc: { client: { clientId: string }; session: { accountId: string }; params: { scope: string } } }) => {
      const grant = new provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(ctx.oidc.params.scope);
      await grant.save();
      return grant;
    },
  });
  const callback = provider.callback();
  const state: TestProvider = {
    issuer,
    impersonateOtherClient: false,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  handler = (req, res) => {
    if (state.impersonateOtherClient) impersonate(req);
    callback(req, res);
  };
  return state;
}

function resetConnectionsIdleFor(server: Server, ms: number): void {
  const answeredAt = new WeakMap<Socket, number>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => res.once('finish', () => answeredAt.set(req.socket, Date.now())));
  server.on('connection', (socket: Socket) =>
    // Before the HTTP parser reads the request: the reset is all the client gets.
    socket.prependListener('data', () => {
      const at = answeredAt.get(socket);
      if (at !== undefined && Date.now() - at >= ms) socket.resetAndDestroy();
    }),
  );
}

function impersonate(req: IncomingMessage): void {
  const url = new URL(req.url ?? '/', 'http://provider.invalid');
  if (url.searchParams.get('client_id') === CLIENT_ID) {
    url.searchParams.set('client_id', OTHER_CLIENT_ID);
    req.url = url.pathname + url.search;
  }
  if (req.headers.authorization?.startsWith('Basic ')) {
    req.headers.authorization = `Basic ${Buffer.from(`${OTHER_CLIENT_ID}:${OTHER_CLIENT_SECRET}`).toString('base64')}`;
  }
}

/** Cookies by name, as a browser keeps them for one host (the tests' gateway and provider share 127.0.0.1). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  set(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** One request without following redirects, cookies from and into the jar. */
export async function step(jar: CookieJar, url: string, init: { method?: string; form?: Record<string, string>; origin?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { cookie: jar.header(), accept: 'text/html' };
  if (init.origin) headers.origin = init.origin;
  if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    redirect: 'manual',
    signal: AbortSignal.timeout(10_000),
    ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
  });
  jar.take(res);
  return res;
}

/**
 * Signs in at the gateway up to the provider's redirect back, the way a
 * browser would: starts the flow, logs in at the provider's form, and returns
 * the callback URL (with code and state) without visiting it. `loginAt` is
 * where the sign-in form is posted: one gateway of several behind
 * `gatewayUrl` (the publicUrl), or by default `gatewayUrl` itself.
 */
export async function signInUntilCallback(gatewayUrl: string, login: string, jar = new CookieJar(), loginAt = gatewayUrl): Promise<{ callbackUrl: string; jar: CookieJar }> {
  let res = await step(jar, `${loginAt}/_berth/login`, { method: 'POST', form: { next: '/' }, origin: gatewayUrl });
  for (let hops = 0; hops < 10; hops++) {
    const location = res.headers.get('location');
    if (res.status === 200) {
      const html = await res.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      if (action === undefined) throw new Error(`no form on the provider page: ${html.slice(0, 300)}`);
      res = await step(jar, new URL(action.replace(/&amp;/g, '&'), res.url).href, { method: 'POST', form: { prompt: 'login', login, password: 'any' } });
      continue;
    }
    if (location === null) throw new Error(`sign-in stopped at ${res.status} ${res.url}: ${await res.text()}`);
    const next = new URL(location, res.url).href;
    if (next.startsWith(`${gatewayUrl}/_berth/oidc/callback`)) return { callbackUrl: next, jar };
    res = await step(jar, next);
  }
  throw new Error('sign-in did not come back to the gateway within 10 redirects');
}

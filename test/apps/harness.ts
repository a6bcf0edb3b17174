import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { startGateway, type RunningGateway } from '../../src/cli/serve.js';
import type { Config } from '../../src/config/schema.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { testConfig } from '../helpers/gatewayParts.js';
import { httpRequest, type Reply } from '../helpers/http.js';

const run = promisify(execFile);

export interface CurlReply {
  status: number;
  redirects: number;
  effective: string;
  body: string;
}

/**
 * A real gateway at http://gateway.test:<port> with apps.domain "apps.test",
 * debug logs captured, and curl as the browser: --resolve sends every name to
 * the gateway's loopback port, and one cookie jar per person keeps cookies
 * as a browser does (host-only cookies stay on their host).
 */
export class AppsGateway {
  logs = '';
  private gateway: RunningGateway | null = null;
  private readonly scratch = mkdtempSync(join(tmpdir(), 'berth-apps-'));
  readonly url: string;

  private constructor(
    readonly port: number,
    readonly config: Config,
    private readonly hosts: string[],
  ) {
    this.url = `http://gateway.test:${port}`;
  }

  /** `hosts`: the app host names curl must resolve to the gateway. */
  static async start(overrides: Record<string, string>, hosts: string[]): Promise<AppsGateway> {
    const port = await freeLoopbackPort();
    const config = testConfig({
      BERTH_LISTEN_HTTP: `127.0.0.1:${port}`,
      BERTH_PUBLIC_URL: `http://gateway.test:${port}`,
      BERTH_LISTEN_SSH: 'null',
      BERTH_LOG_LEVEL: 'debug',
      BERTH_APPS_DOMAIN: 'apps.test',
      ...overrides,
    });
    const apps = new AppsGateway(port, config, ['gateway.test', ...hosts]);
    await apps.restart();
    return apps;
  }

  /** Starts the gateway (again, after a shutdown) on the same data directory. */
  async restart(): Promise<void> {
    await this.gateway?.shutdown();
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.logs += chunk.toString('utf8');
        done();
      },
    });
    this.gateway = await startGateway({ config: this.config, file: null }, 'test', sink);
  }

  async close(): Promise<void> {
    await this.gateway?.shutdown();
    rmSync(this.config.dataDir, { recursive: true, force: true });
    rmSync(this.scratch, { recursive: true, force: true });
  }

  app(user: string, port: number): string {
    return `http://${user}-${port}.apps.test:${this.port}`;
  }

  jar(who: string): string {
    return join(this.scratch, `${who}.jar`);
  }

  async curl(url: string, args: string[] = []): Promise<CurlReply> {
    const out = join(this.scratch, 'body');
    const resolves = this.hosts.flatMap((h) => ['--resolve', `${h}:${this.port}:127.0.0.1`]);
    const { stdout } = await run('curl', ['-sS', '--max-time', '30', ...resolves, '-o', out, '-w', '%{json}', ...args, url]);
    const info = JSON.parse(stdout) as { http_code: number; num_redirects: number; url_effective: string };
    return { status: info.http_code, redirects: info.num_redirects, effective: info.url_effective, body: readFileSync(out, 'utf8') };
  }

  /** A browser: follows redirects, keeps cookies in its jar, asks for HTML. */
  browse(who: string, url: string, args: string[] = []): Promise<CurlReply> {
    return this.curl(url, ['-L', '--max-redirs', '5', '-b', this.jar(who), '-c', this.jar(who), '-H', 'Accept: text/html', ...args]);
  }

  /** Signs `who` in with the dev login form. */
  async login(who: string): Promise<void> {
    assert.equal((await this.curl(`${this.url}/_berth/login`, ['-b', this.jar(who), '-c', this.jar(who), '-d', `username=${who}`])).status, 303);
  }

  /** A request through the gateway's main route with `who`'s session (a script: held until the berth is ready). */
  main(who: string, path: string): Promise<CurlReply> {
    return this.curl(`${this.url}${path}`, ['-b', this.jar(who)]);
  }

  /**
   * A page of the gateway's own making a same-origin API call with the
   * browser's session: Origin, and the session's CSRF token where the
   * gateway's pages carry one (`<meta name="berth-csrf">`).
   */
  async api(who: string, method: string, path: string, body?: unknown): Promise<CurlReply> {
    const csrf = method === 'GET' ? undefined : await this.csrfToken(who);
    return this.curl(`${this.url}${path}`, [
      '-b',
      this.jar(who),
      '-X',
      method,
      '-H',
      `Origin: ${this.url}`,
      '-H',
      'Content-Type: application/json',
      ...(csrf === undefined ? [] : ['-H', `X-Berth-CSRF: ${csrf}`]),
      ...(body === undefined ? [] : ['-d', JSON.stringify(body)]),
    ]);
  }

  private async csrfToken(who: string): Promise<string | undefined> {
    const page = await this.curl(`${this.url}/_berth/`, ['-b', this.jar(who), '-H', 'Accept: text/html']);
    return /<meta name="berth-csrf" content="([^"]+)"/.exec(page.body)?.[1];
  }

  withToken(token: string, method: string, path: string, body?: unknown): Promise<Reply> {
    return httpRequest(`http://127.0.0.1:${this.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  /** One request with this Host header (the gateway's port added), as node sends it: no cookies but those given. */
  onHost(host: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
    return httpRequest(`http://127.0.0.1:${this.port}${path}`, { headers: { host: `${host}:${this.port}`, ...headers } });
  }

  async newToken(who: string, scopes: string[], expiresInSeconds: number | null = 3600): Promise<{ id: string; token: string }> {
    const reply = await this.api(who, 'POST', '/_berth/api/me/tokens', { scopes, expiresInSeconds, name: `${scopes.join('+')} token` });
    assert.equal(reply.status, 201, reply.body);
    return JSON.parse(reply.body) as { id: string; token: string };
  }

  async ports(who: string): Promise<ListedPort[]> {
    const reply = await this.api(who, 'GET', '/_berth/api/me/ports');
    assert.equal(reply.status, 200, reply.body);
    return (JSON.parse(reply.body) as { ports: ListedPort[] }).ports;
  }
}

/** One entry of GET /_berth/api/me/ports. */
export interface ListedPort {
  port: number;
  url: string | null;
  share: string;
  listening: boolean;
  loopbackOnly: boolean;
  unreachable?: string;
}

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after } from 'node:test';
import { configSchema, type Config, type ConfigInput } from '../../src/config/schema.js';
import { asBerthError, type BerthError } from '../../src/core/errors.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { checkSameOrigin } from '../../src/auth/csrf/origin.js';
import { loginLocation } from '../../src/auth/next.js';
import { createAuth } from '../../src/auth/registry.js';
import type { Authenticated, AuthResult, Challenge } from '../../src/auth/types.js';

/** A fresh data directory per call, removed when the test file ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-auth-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The defaults with a fresh dataDir, unless `input` names one. */
export function testConfig(input: ConfigInput = {}): Config {
  return configSchema.parse({ dataDir: tempDir(), ...input });
}

/** A debug logger whose lines the test can read, to prove what is (not) logged. */
export function captureLogger(): { logger: Logger; text: () => string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger('debug', sink), text: () => lines.join('') };
}

/**
 * A request as the HTTP parser would build it, from a chosen TCP peer: the
 * raw list as sent, names lowercased, repeats joined in `headers` (with "; "
 * for Cookie) and kept apart in `headersDistinct`.
 */
export function fakeRequest(options: { peer?: string; method?: string; headers?: Array<[string, string]> }): IncomingMessage {
  const req = new IncomingMessage({ remoteAddress: options.peer } as Socket);
  req.method = options.method ?? 'GET';
  req.url = '/';
  req.rawHeaders = (options.headers ?? []).flat();
  const distinct: Record<string, string[]> = {};
  for (const [name, value] of options.headers ?? []) (distinct[name.toLowerCase()] ??= []).push(value);
  req.headersDistinct = distinct;
  req.headers = Object.fromEntries(
    Object.entries(distinct).map(([name, values]) => [name, values.join(name === 'cookie' ? '; ' : ', ')]),
  );
  return req;
}

/**
 * A gateway in miniature on 127.0.0.1:0 (publicUrl is its real address),
 * wired the way the router uses auth: mounted auth routes first, then
 * authenticate, then the origin check for state-changing requests. Answers
 * with the authenticated user as JSON.
 */
export async function startGateway(input: ConfigInput, logger: Logger, port = 0): Promise<{ url: string; config: Config }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = testConfig({ ...input, publicUrl: url });
  const auth = await createAuth(config, logger);

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    void (async () => {
      const route = auth.authenticator.routes.get(new URL(req.url ?? '/', 'http://x').pathname);
      if (route) return route(req, res);
      const result = await auth.authenticator.authenticate(req);
      if ('refused' in result) return json(result.refused.status, { code: result.refused.code });
      if ('challenge' in result) {
        const { loginPath, error } = result.challenge;
        if (loginPath !== null && req.method === 'GET' && (req.headers.accept ?? '').includes('text/html')) {
          res.writeHead(303, { location: loginLocation(loginPath, req.url) });
          return res.end();
        }
        return json(error.status, { code: error.code, message: error.userMessage });
      }
      const crossOrigin = checkSameOrigin(req, config.publicUrl);
      if (crossOrigin) return json(crossOrigin.status, { code: crossOrigin.code });
      return json(200, result);
    })().catch((err: unknown) => {
      const error = asBerthError(err);
      json(error.status, { code: error.code, message: error.userMessage });
    });
  });
  return { url, config };
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Flips bits of a base64url value's last character; its two lowest bits are spare in a 32-byte MAC. */
export function flipLast(value: string, bits: number): string {
  return value.slice(0, -1) + BASE64URL[BASE64URL.indexOf(value.slice(-1)) ^ bits];
}

export interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** One HTTP request with a bounded wait; node:http so no client adds Origin or Sec-Fetch-* by itself. */
export function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 5 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The name=value part of the one Set-Cookie for `name`. */
export function cookieFrom(reply: Reply, name: string): string | undefined {
  const line = (reply.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${name}=`));
  return line?.split(';')[0];
}

// Narrowing with a message of our own: a bare failing assert.ok makes Node
// re-parse the transpiled one-line source to describe it, which takes minutes.
export function expectUser(result: AuthResult): Authenticated {
  if ('user' in result) return result;
  return assert.fail(`expected a user, got ${describe(result)}`);
}

export function expectRefused(result: AuthResult): BerthError {
  if ('refused' in result) return result.refused;
  return assert.fail(`expected a refusal, got ${describe(result)}`);
}

export function expectChallenge(result: AuthResult): Challenge {
  if ('challenge' in result) return result.challenge;
  return assert.fail(`expected a challenge, got ${describe(result)}`);
}

function describe(result: AuthResult): string {
  if ('user' in result) return `user ${result.user.name}`;
  if ('refused' in result) return `refused ${result.refused.code}`;
  return `challenge ${result.challenge.error.userMessage}`;
}

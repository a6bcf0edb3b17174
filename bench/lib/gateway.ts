import { execFile } from 'node:child_process';
import { get } from 'node:http';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { freePort } from './nginx.js';
import { startCommand, type ServerProcess } from './processes.js';

const run = promisify(execFile);

/** The header a gateway in header mode reads the user from, trusted from loopback by default. */
export const USER_HEADER = 'X-Forwarded-Preferred-Username';

/** Builds the gateway as `npm run build` does (into dist/, git-ignored) and returns its CLI entry. */
export async function buildGateway(): Promise<string> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  await run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { timeout: 180_000 });
  return resolve('dist/cli/main.js');
}

/**
 * A real gateway, `berth serve`, in a process of its own on a free loopback
 * port with SSH off and header authentication (the load sends USER_HEADER),
 * over `config` for the rest. Its data directory is `dir`.
 */
export async function startGateway(
  cli: string,
  dir: string,
  config: Record<string, unknown>,
  options: { nodeArgs?: readonly string[]; nofile?: number } = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const file = join(dir, 'berth.yaml');
  writeFileSync(
    file,
    stringify({
      dataDir: join(dir, 'data'),
      publicUrl: `http://127.0.0.1:${port}`,
      listen: { http: `127.0.0.1:${port}`, ssh: null },
      log: { level: 'warn' },
      auth: { mode: 'header' },
      ...config,
    }),
  );
  return startCommand(process.execPath, [...(options.nodeArgs ?? []), cli, 'serve', '--config', file], {}, { port }, options.nofile);
}

/**
 * One GET as a script sends it (no Fetch Metadata, unlike fetch()), which the
 * gateway holds until the berth is ready; resolves with the status and the
 * time of the first byte of the response (performance.now()).
 */
export function scriptRequest(url: string, user: string, timeoutMs = 120_000): Promise<{ status: number; firstByteAt: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers: { [USER_HEADER]: user }, agent: false, timeout: timeoutMs }, (res) => {
      const firstByteAt = performance.now();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => (body += text));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, firstByteAt, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ensureDebian } from './install.js';
import { startCommand, treeCpuMs, type ServerProcess } from './processes.js';

/** A port free on 127.0.0.1 just now, for servers that cannot listen on port 0 and say which they got. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port from the kernel');
  return address.port;
}

/** What a bench nginx serves: a short body itself, or a proxy to one upstream with a keep-alive pool. */
export type NginxRole = { body: string } | { upstream: string };

/**
 * nginx.conf for one worker on 127.0.0.1:port, no access log, keep-alive
 * connections reused without limit, temporary files under `dir`. As a proxy
 * it keeps idle upstream connections (without which each request would open
 * one) and speaks HTTP/1.1 upstream, as a tuned production nginx does.
 */
export function nginxConfig(dir: string, port: number | string, role: NginxRole): string {
  const location =
    'body' in role
      ? `default_type text/plain; return 200 ${JSON.stringify(role.body)};`
      : `proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host;`;
  const upstream = 'upstream' in role ? `upstream backend { server ${role.upstream}; keepalive 64; keepalive_requests 1000000; }` : '';
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  ${upstream}
  server { listen 127.0.0.1:${port}; location / { ${location} } }
}
`;
}

export function requireNginx(): void {
  if (!ensureDebian('nginx-light', 'nginx')) throw new Error('nginx is missing and could not be installed: apt-get install nginx-light');
}

/** Starts nginx in a directory of its own (created) and resolves once it accepts connections. */
export async function startNginx(dir: string, role: NginxRole): Promise<ServerProcess> {
  requireNginx();
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, nginxConfig(dir, port, role));
  const server = await startCommand('nginx', ['-p', dir, '-c', file], {}, { port });
  // The master only reads the configuration; the worker does the work.
  return { ...server, cpuMs: () => treeCpuMs(server.pid) };
}

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/http.js';

/*
 * Debian's nginx as a child of the test, terminating TLS with a certificate
 * made here by openssl, its server block taken verbatim from the README's
 * "DNS and TLS" section (only the listen address, certificate paths and
 * upstream are the test's own).
 */

export const NGINX = '/usr/sbin/nginx';

export function nginxMissing(): string | null {
  if (!existsSync(NGINX)) return `${NGINX} is missing: install Debian's nginx-light (bash .ci/run system)`;
  return opensslMissing();
}

/** Why no certificate can be made here (makeCertificate below), or null. */
export function opensslMissing(): string | null {
  return existsSync('/usr/bin/openssl') ? null : "openssl is missing: install Debian's openssl (bash .ci/run system)";
}

/** The README's nginx block that starts with `opening`: by default the one for TLS in front of the gateway. */
export function readmeNginxBlock(opening = 'map $http_upgrade'): string {
  const readme = readFileSync('README.md', 'utf8');
  const escaped = opening.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const block = new RegExp(`\`\`\`nginx\\n(${escaped}[\\s\\S]*?)\`\`\``).exec(readme)?.[1];
  if (block === undefined) throw new Error(`README has no nginx block starting with "${opening}"`);
  return block;
}

export interface Nginx {
  close(): Promise<void>;
  errorLog(): string;
}

/** A self-signed certificate for `names` (the first is the subject), as PEM files in `dir`. */
export function makeCertificate(dir: string, names: string[]): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', key, '-out', cert, '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
  ], { stdio: 'ignore' });
  return { cert, key };
}

export async function startNginx(port: number, upstream: string, names: string[]): Promise<Nginx> {
  const root = mkdtempSync(join(tmpdir(), 'b19-nginx-'));
  const { cert, key } = makeCertificate(root, names);
  const server = readmeNginxBlock()
    .replace('listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`)
    .replace('/etc/ssl/berth/fullchain.pem', cert)
    .replace('/etc/ssl/berth/privkey.pem', key)
    .replace('http://127.0.0.1:8000', `http://${upstream}`);
  return runNginx(root, port, server);
}

/**
 * nginx in the foreground with `server` (http-level directives: a server
 * block, maps, upstreams) as its whole http block, everything it writes
 * under `root`, which close() removes; resolves once it accepts on `port`.
 */
export async function runNginx(root: string, port: number, server: string): Promise<Nginx> {
  mkdirSync(join(root, 'tmp'));
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${root}/tmp/${t};`).join('\n');
  writeFileSync(
    join(root, 'nginx.conf'),
    `worker_processes 1;\npid ${root}/nginx.pid;\nerror_log ${root}/error.log warn;\n${process.getuid?.() === 0 ? 'user nobody nogroup;\n' : ''}events {}\nhttp {\n    access_log off;\n${temp}\n${server}}\n`,
  );
  const child = spawn(NGINX, ['-p', root, '-c', join(root, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const errorLog = () => output + (existsSync(join(root, 'error.log')) ? readFileSync(join(root, 'error.log'), 'utf8') : '');
  try {
    await eventually(
      () =>
        new Promise<true | undefined>((done) => {
          if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${errorLog()}`);
          const socket = connect(port, '127.0.0.1');
          socket.once('connect', () => (socket.destroy(), done(true))).once('error', () => done(undefined));
        }),
      15_000,
      'nginx to accept connections',
    );
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  return {
    errorLog,
    async close() {
      if (child.exitCode === null) child.kill('SIGQUIT');
      await exited;
      rmSync(root, { recursive: true, force: true });
    },
  };
}

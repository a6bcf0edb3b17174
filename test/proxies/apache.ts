import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventually } from '../helpers/http.js';

/*
 * Debian's Apache httpd as a child of the test: its own ServerRoot and
 * configuration in a temporary directory, on a loopback port, no system
 * service. The site configuration is deploy/apache/berth.conf, exactly as
 * the README shows it; this file only adds what a Debian install's
 * apache2.conf and a2enmod would (modules, runtime paths, the user).
 */

export const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';
export const SITE_CONF = resolve('deploy/apache/berth.conf');

export function apacheMissing(): string | null {
  if (!existsSync(APACHE)) return `${APACHE} is missing: install Debian's apache2 and libapache2-mod-auth-openidc (bash .ci/run system)`;
  if (!existsSync(join(MODULES, 'mod_auth_openidc.so'))) return "mod_auth_openidc is missing: install Debian's libapache2-mod-auth-openidc (bash .ci/run system)";
  return null;
}

export interface Apache {
  child: ChildProcess;
  errorLog(): string;
  close(): Promise<void>;
}

/** Starts Apache with `defines` (the variables berth.conf names) and resolves once it accepts connections on `port`. */
export async function startApache(port: number, defines: Record<string, string>, extraConfig = ''): Promise<Apache> {
  const root = mkdtempSync(join(tmpdir(), 'b19-apache-'));
  const modules = ['mpm_event', 'authn_core', 'authz_core', 'authz_user', 'headers', 'proxy', 'proxy_http', 'auth_openidc', ...(extraConfig.includes('SSLEngine') ? ['ssl', 'socache_shmcb'] : [])];
  const asRoot = process.getuid?.() === 0;
  const config = [
    `ServerRoot "${root}"`,
    `DefaultRuntimeDir "${root}"`,
    `PidFile "${root}/httpd.pid"`,
    `ErrorLog "${root}/error.log"`,
    'LogLevel warn',
    'ServerName localhost',
    `Listen 127.0.0.1:${port}`,
    ...modules.map((m) => `LoadModule ${m === 'auth_openidc' ? 'auth_openidc_module' : `${m}_module`} ${MODULES}/mod_${m}.so`),
    // As root, Apache's workers must be told to drop to an unprivileged user.
    ...(asRoot ? ['User nobody', 'Group nogroup'] : []),
    ...Object.entries(defines).map(([name, value]) => `Define ${name} "${value}"`),
    extraConfig,
    `Include "${SITE_CONF}"`,
  ].join('\n');
  writeFileSync(join(root, 'httpd.conf'), `${config}\n`);
  const child = spawn(APACHE, ['-f', join(root, 'httpd.conf'), '-DFOREGROUND'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const errorLog = () => {
    try {
      return output + readFileSync(join(root, 'error.log'), 'utf8');
    } catch {
      return output;
    }
  };
  try {
    await eventually(
      () =>
        new Promise<true | undefined>((done) => {
          if (child.exitCode !== null) throw new Error(`apache2 exited ${child.exitCode}: ${errorLog()}`);
          const socket = connect(port, '127.0.0.1');
          socket.once('connect', () => (socket.destroy(), done(true))).once('error', () => done(undefined));
        }),
      15_000,
      'apache2 to accept connections',
    );
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\n${errorLog()}`);
  }
  return {
    child,
    errorLog,
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(root, { recursive: true, force: true });
    },
  };
}

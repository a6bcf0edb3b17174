import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { authorizedKeyLine, parsePublicKey } from '../../src/ssh/keys.js';
import { startSshServer, type SshServer } from '../../src/ssh/server.js';
import { testConfig, type SpawnerParts } from '../helpers/gatewayParts.js';
import { RUNTIMES, type SshRuntime } from './runtimes.js';

/** Every client process is killed after this, so no test can hang on one. */
export const CLIENT_TIMEOUT_MS = 30_000;

export interface Gateway {
  config: Config;
  runtime: SshRuntime;
  parts: SpawnerParts;
  server: SshServer;
  port: number;
  /** The SSH front's log records, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Closes the SSH server and starts a new one on the same data directory, as a gateway restart does. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** A real spawner over the runtime (local unless given) with the SSH server in front, on a free loopback port. */
export async function startGateway(adjust: (config: Config) => void = () => undefined, runtime: SshRuntime = RUNTIMES[0] as SshRuntime): Promise<Gateway> {
  const config = testConfig({ BERTH_LISTEN_SSH: '127.0.0.1:0' });
  runtime.configure(config);
  adjust(config);
  const parts = await runtime.parts(config);
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const logger = createLogger('debug', sink);
  const start = () => startSshServer({ config, directory: parts.spawner, store: parts.store, logger, metrics: parts.metrics });
  const gateway: Gateway = {
    config,
    runtime,
    parts,
    server: await start(),
    port: 0,
    logs,
    async restart() {
      await gateway.server.close();
      gateway.server = await start();
      gateway.port = gateway.server.address().port;
    },
    async close() {
      await gateway.server.close();
      await parts.close();
    },
  };
  gateway.port = gateway.server.address().port;
  return gateway;
}

export interface ClientKey {
  path: string;
  publicKey: string;
}

/** A temporary directory for client keys and files, removed by the returned cleanup. */
export function scratchDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ssh-client-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function makeKey(dir: string, name: string, options: { type?: 'ed25519' | 'rsa'; bits?: number } = {}): ClientKey {
  const path = join(dir, name);
  const bits = options.bits === undefined ? [] : ['-b', String(options.bits)];
  const args = ['-q', '-t', options.type ?? 'ed25519', ...bits, '-N', '', '-C', `${name}@test`, '-f', path];
  const result = spawnSync('ssh-keygen', args, { timeout: CLIENT_TIMEOUT_MS });
  if (result.status !== 0) throw new Error(`ssh-keygen failed: ${result.stderr.toString()}`);
  return { path, publicKey: spawnSync('cat', [`${path}.pub`]).stdout.toString().trim() };
}

export type Scratch = ReturnType<typeof scratchDir>;

export interface AliceSetup {
  gateway: Gateway;
  scratch: Scratch;
  key: ClientKey;
}

/** What most tests start from: a gateway (config under `adjust`, on `runtime`), a key registered for alice, a scratch directory. */
export async function gatewayForAlice(adjust?: (config: Config) => void, runtime?: SshRuntime): Promise<AliceSetup> {
  const gateway = await startGateway(adjust, runtime);
  const scratch = scratchDir();
  const key = makeKey(scratch.dir, 'alice');
  await authorize(gateway, 'alice', key);
  return { gateway, scratch, key };
}

export async function closeSetup({ gateway, scratch }: Pick<AliceSetup, 'gateway' | 'scratch'>): Promise<void> {
  await gateway.close();
  scratch.remove();
}

/** Registers the key for the user in the store, as POST /_berth/api/me/keys does. */
export async function authorize(gateway: Gateway, user: string, key: ClientKey): Promise<void> {
  const parsed = parsePublicKey(key.publicKey);
  if (!parsed) throw new Error('ssh-keygen made a key the gateway does not take');
  await gateway.parts.store.addSshKey({
    user,
    publicKey: authorizedKeyLine(parsed),
    fingerprint: parsed.fingerprint,
    comment: parsed.comment,
    createdAt: Date.now(),
  });
}

/** Options every client needs against a throwaway gateway: no known_hosts, no agent, no prompts, only the given key. */
export function clientOptions(key: ClientKey | null): string[] {
  return [
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    '-o', 'ConnectTimeout=10',
    '-F', '/dev/null',
    ...(key ? ['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-i', key.path] : []),
  ];
}

/** Arguments of `ssh` as `user` with `key`; `options` come first, since ssh keeps the first value it is given for each. */
export function sshArgs(gateway: Gateway, key: ClientKey | null, user: string, command?: string, options: string[] = []): string[] {
  return [...options, ...clientOptions(key), '-p', String(gateway.port), `${user}@127.0.0.1`, ...(command === undefined ? [] : ['--', command])];
}

/** The same as one shell word list, for pipelines run through sh -c. */
export function sshCommandLine(gateway: Gateway, key: ClientKey | null, user: string, command?: string, options: string[] = []): string {
  return ['ssh', ...sshArgs(gateway, key, user, command, options)].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
}

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a client to its end, killed after timeoutMs. */
export function run(
  file: string,
  args: string[],
  options: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? CLIENT_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}

/** A client kept running (a session or a forward) until the test ends it. */
export function background(file: string, args: string[]) {
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: CLIENT_TIMEOUT_MS, killSignal: 'SIGKILL' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const ended = new Promise<Ran>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return {
    child,
    ended,
    output: () => ({ stdout, stderr }),
    stop: () => {
      child.kill('SIGKILL');
      return ended;
    },
  };
}

/** Polls until `check` holds, failing after timeoutMs. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Log records with the given code. */
export function logged(gateway: Gateway, code: string): Array<Record<string, unknown>> {
  return gateway.logs.filter((r) => r.code === code);
}

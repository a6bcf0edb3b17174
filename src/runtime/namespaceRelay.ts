import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONNECT_TIMEOUT_MS } from './connectTcp.js';
import type { RelayReady, RelayReply, RelayRequest } from './nsRelay.js';

/** How long nsenter and node may take to bring the relay up (a loaded machine, a TypeScript loader in tests). */
const START_TIMEOUT_MS = 15_000;
/** The relay's own connect timeout plus the IPC round trip. */
const REPLY_TIMEOUT_MS = CONNECT_TIMEOUT_MS + 2_000;
const STDERR_KEPT = 2_000;

/** The relay script beside this module, as .js when compiled and .ts under a TypeScript loader. */
const RELAY_SCRIPT = fileURLToPath(new URL(`./nsRelay${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

/** Node flags that load code (a TypeScript loader in tests and development), which the relay needs to run as this process does. */
function loaderFlags(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i] as string;
    if (/^--(import|require|loader|experimental-loader)=/.test(flag)) kept.push(flag);
    else if (/^(--import|--require|-r|--loader|--experimental-loader)$/.test(flag) && i + 1 < execArgv.length) kept.push(flag, execArgv[++i] as string);
  }
  return kept;
}

/**
 * The gateway's end of one berth's relay (./nsRelay.ts): a node process
 * entered into the berth's network namespace by an argv prefix (util-linux's
 * nsenter: as root for a container's; through the user namespace the gateway
 * owns for a sandboxed local berth's), which hands back connected sockets
 * over its IPC channel.
 */
export class NamespaceRelay {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (socket: Socket) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  private ended: Error | null = null;

  private constructor(
    private readonly child: ChildProcess,
    /** The addresses of the namespace's interfaces, as the relay found them on start. */
    readonly addresses: readonly string[],
  ) {
    child.on('message', (reply: RelayReply, handle: unknown) => this.answered(reply, handle));
    child.once('exit', (code, signal) => this.end(new Error(`the relay ended (${signal ?? `code ${code}`})`)));
  }

  /**
   * Starts a relay through `enter` (e.g. `nsenter --target=PID --net --`); rejects with what nsenter
   * or node said when it cannot, or (code ETIMEDOUT: slow, not impossible) when it took longer than `timeoutMs`.
   */
  static start(enter: readonly string[], timeoutMs = START_TIMEOUT_MS): Promise<NamespaceRelay> {
    const [file = 'nsenter', ...args] = enter;
    return new Promise((resolve, reject) => {
      const child = spawn(file, [...args, process.execPath, ...loaderFlags(process.execArgv), RELAY_SCRIPT], {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        env: { ...process.env, BERTH_NS_RELAY: '1' },
      });
      let stderr = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        if (stderr.length < STDERR_KEPT) stderr += chunk;
      });
      const fail = (why: string, code?: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(Object.assign(new Error(`${why}${stderr.trim() === '' ? '' : `: ${stderr.trim().slice(0, STDERR_KEPT)}`}`), code === undefined ? {} : { code }));
      };
      // A timeout, as the connect's own: a loaded host is no reason for the runtime to give the namespace path up for good.
      const timer = setTimeout(() => fail(`the relay did not start within ${timeoutMs / 1000} s`, 'ETIMEDOUT'), timeoutMs);
      child.once('error', (err) => fail(`cannot run nsenter (${err.message})`));
      child.once('exit', (code, signal) => fail(`${enter.join(' ')} ended (${signal ?? `code ${code}`})`));
      child.once('message', (message: RelayReady) => {
        if (message.ready !== true) return fail('the relay sent something other than its ready message');
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.removeAllListeners('error');
        child.on('error', () => undefined);
        child.stderr?.removeAllListeners('data').resume();
        resolve(new NamespaceRelay(child, message.addresses));
      });
    });
  }

  get running(): boolean {
    return this.ended === null;
  }

  /** A socket connected inside the namespace to the first of `hosts` that accepts on `port`; rejects with the relay's errno-style error. */
  connect(port: number, hosts: string[]): Promise<Socket> {
    if (this.ended) return Promise.reject(this.ended);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(Object.assign(new Error(`the relay did not answer within ${REPLY_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' }));
      }, REPLY_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.child.send({ id, port, hosts } satisfies RelayRequest);
    });
  }

  close(): void {
    this.end(new Error('the relay was closed'));
    this.child.kill('SIGKILL');
  }

  private answered(reply: RelayReply, handle: unknown): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) {
      // Answered after its timeout: nobody will use the socket.
      (handle as Socket | undefined)?.destroy();
      return;
    }
    this.pending.delete(reply.id);
    clearTimeout(waiting.timer);
    if (reply.ok && handle) waiting.resolve(handle as Socket);
    else if (reply.ok) waiting.reject(new Error('the relay answered without a socket'));
    else waiting.reject(Object.assign(new Error(reply.message), { code: reply.code }));
  }

  private end(err: Error): void {
    if (this.ended) return;
    this.ended = err;
    for (const waiting of this.pending.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(err);
    }
    this.pending.clear();
  }
}

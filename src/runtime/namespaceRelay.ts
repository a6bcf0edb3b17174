import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/**
 * The helper's code, run by `node -e` inside the target network namespace
 * (nothing to find on disk, the same from a checkout and an install). For
 * each request it connects to the port on loopback, 127.0.0.1 then ::1, so a
 * listener bound to either or to every address is found, and sends the
 * connected socket back; the socket is paused before it connects so the
 * helper never reads a byte meant for the gateway.
 */
const HELPER = `
const net = require('node:net');
function attempt(id, port, hosts) {
  const socket = net.connect({ port, host: hosts[0] });
  socket.pause();
  socket.once('error', (err) => {
    if (hosts.length > 1) attempt(id, port, hosts.slice(1));
    else process.send({ id, error: err.code || err.message });
  });
  socket.once('connect', () => process.send({ id }, socket));
}
process.on('message', (m) => attempt(m.id, m.port, ['127.0.0.1', '::1']));
process.on('disconnect', () => process.exit(0));
`;

/** A small heap: the helper only holds a few sockets at a time. */
const HELPER_FLAGS = ['--max-old-space-size=16', '--max-semi-space-size=1'];

export class RelayError extends Error {
  constructor(
    message: string,
    /** The errno code from inside the namespace (ECONNREFUSED: nothing listens), or null when the helper failed. */
    readonly code: string | null,
  ) {
    super(message);
    this.name = 'RelayError';
  }
}

interface Pending {
  resolve(socket: Socket): void;
  reject(err: RelayError): void;
  timer: NodeJS.Timeout;
}

/**
 * Opens TCP connections from inside another network namespace and hands the
 * connected sockets to the gateway: a helper started through `enter`, an argv
 * prefix that enters the namespace (`nsenter --target=PID --net …`), takes
 * "connect to port P" over Node's IPC channel and sends back the connected
 * socket. The file descriptor passes over the channel, so no byte of the
 * connection goes through the helper. One helper per namespace, started on
 * the first connect and ended by close() or when the gateway's end of the
 * channel goes; a helper that dies is started again on the next connect.
 */
export class NamespaceRelay {
  private helper: ChildProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderr = '';
  private closed = false;

  constructor(
    private readonly enter: readonly string[],
    private readonly timeoutMs = 5_000,
  ) {}

  connect(port: number): Promise<Socket> {
    if (this.closed) return Promise.reject(new RelayError('the relay is closed', null));
    const helper = this.helper ?? this.start();
    const id = this.nextId++;
    return new Promise<Socket>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, new RelayError(`no answer within ${this.timeoutMs} ms`, null)), this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      helper.send({ id, port }, (err) => {
        if (err) this.settle(id, new RelayError(`cannot reach the relay: ${err.message}`, null));
      });
    });
  }

  close(): void {
    this.closed = true;
    this.helper?.kill('SIGKILL');
    this.failAll('the relay was closed');
  }

  private start(): ChildProcess {
    const [file = 'nsenter', ...args] = this.enter;
    const helper = spawn(file, [...args, process.execPath, ...HELPER_FLAGS, '-e', HELPER], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: {},
    });
    this.helper = helper;
    this.stderr = '';
    helper.stderr?.setEncoding('utf8');
    helper.stderr?.on('data', (text: string) => {
      this.stderr = (this.stderr + text).slice(-1000);
    });
    helper.on('message', (message: { id: number; error?: string }, handle?: Socket) => {
      if (handle) this.settle(message.id, null, handle);
      else this.settle(message.id, new RelayError(`connect failed: ${message.error ?? 'unknown error'}`, message.error ?? null));
    });
    helper.once('error', (err) => this.ended(helper, err.message));
    helper.once('exit', (code, signal) => this.ended(helper, `exited with ${signal ?? code}`));
    return helper;
  }

  private ended(helper: ChildProcess, how: string): void {
    if (this.helper !== helper) return;
    this.helper = null;
    const said = this.stderr.trim().split('\n').at(-1);
    this.failAll(`the relay ${how}${said ? `: ${said}` : ''}`);
  }

  private failAll(message: string): void {
    for (const id of [...this.pending.keys()]) this.settle(id, new RelayError(message, null));
  }

  private settle(id: number, err: RelayError | null, socket?: Socket): void {
    const pending = this.pending.get(id);
    if (!pending) {
      socket?.destroy(); // answered after its timeout
      return;
    }
    this.pending.delete(id);
    clearTimeout(pending.timer);
    // Latency-bound traffic (requests, interactive forwards), as every way into a berth: Nagle off.
    if (err === null && socket) pending.resolve(socket.setNoDelay(true));
    else pending.reject(err ?? new RelayError('no socket came back', null));
  }
}

import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, type Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { WebSocketServer, type WebSocket } from 'ws';
import { demultiplexer } from '../../../src/runtime/docker/frames.js';
import type { Kubelet } from './kubelet.js';
import { SPDY_UPGRADE, spdyPortForward } from './spdyPortForward.js';
import { statusBody } from './server.js';

/*
 * The pod subresources that stream, with the framing of the real API server
 * (k8s.io/apimachinery wsstream, kubelet remotecommand and portforward):
 *
 * - exec and attach over WebSocket, subprotocols v5.channel.k8s.io and
 *   v4.channel.k8s.io: each message is one channel byte and data; 0 stdin,
 *   1 stdout, 2 stderr, 3 the final Status (exit code in details.causes),
 *   4 resize ({"Width","Height"}), and in v5 only 255 + channel to close
 *   that channel (stdin EOF).
 * - portforward over WebSocket, subprotocol v4.channel.k8s.io only: per port a
 *   data and an error channel, each first frame from the server carrying the
 *   port as two little-endian bytes; the connection is made inside the pod's
 *   network namespace, so it reaches listeners on the pod's loopback too.
 * - log over plain HTTP, with tailLines and follow.
 */

/**
 * Port-forward over WebSocket as the fake speaks it. The real API server
 * (1.30 on) also takes SPDY/3.1 tunnelled in a WebSocket
 * ("SPDY/3.1+portforward.k8s.io") and a plain SPDY/3.1 upgrade
 * ("portforward.k8s.io"): the two kubectl port-forward tries, in that order.
 * The fake refuses the first and speaks the second (spdyPortForward.ts),
 * so kubectl falls back to it, as it does against an API server before 1.30.
 */
const PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io'];

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const RESIZE = 4;
const CLOSE = 255;

export class Streams {
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (offered, req) => this.pick(offered, req) });
  private readonly sockets = new Set<WebSocket>();
  private allowed: string[] = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
  private readonly relays = new Map<string, Promise<string>>();
  private readonly children = new Set<ChildProcess>();

  constructor(
    private readonly kubelet: Kubelet,
    private readonly engine: Docker,
  ) {}

  /** Which exec protocols the fake speaks, in its order of preference: drop v5 to see a client fall back to v4. */
  set protocols(list: string[]) {
    this.allowed = list;
  }

  /** What the API server speaks on a request's path: port-forward has only v4 (v5 adds stdin's close, which it has no use for). */
  private supported(req: IncomingMessage): string[] {
    return /\/portforward(\?|$)/.test(req.url ?? '') ? PORT_FORWARD_PROTOCOLS : this.allowed;
  }

  private pick(offered: Set<string>, req: IncomingMessage): string | false {
    const supported = this.supported(req);
    for (const p of offered) if (supported.includes(p)) return p;
    return false;
  }

  /** Ends every stream connection; with `all`, the pods' relays too (the fake is shutting down). */
  close(all = false): void {
    for (const ws of this.sockets) ws.terminate();
    if (all) for (const child of this.children) child.kill();
  }

  handle(kind: 'exec' | 'attach' | 'portforward', namespace: string, name: string, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const pod = this.kubelet.runtimeOf(namespace, name);
    if (!pod || pod.pid === 0) return refuse(socket, 400, `container not found ("berth")`);
    if (kind === 'portforward' && req.headers.upgrade?.toLowerCase() === SPDY_UPGRADE) return this.spdyPortForward(req, socket, head, pod);
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    const supported = this.supported(req);
    if (!offered.some((p) => supported.includes(p))) return refuse(socket, 400, `none of the offered subprotocols (${offered.join(', ')}) is supported; use ${supported.join(' or ')}`);
    const query = new URL(req.url ?? '/', 'http://fake').searchParams;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.sockets.add(ws);
      ws.on('close', () => this.sockets.delete(ws));
      ws.on('error', () => undefined);
      const container = this.engine.getContainer(pod.containerId);
      const work = kind === 'portforward' ? this.portForward(ws, pod, query) : kind === 'exec' ? this.exec(ws, container, query) : this.attach(ws, container, query);
      work.catch((err: unknown) => {
        send(ws, kind === 'portforward' ? 1 : STATUS, JSON.stringify(statusBody(500, 'InternalError', (err as Error).message)));
        ws.close();
      });
    });
  }

  private async exec(ws: WebSocket, container: Docker.Container, query: URLSearchParams): Promise<void> {
    const command = query.getAll('command');
    const tty = query.get('tty') === 'true';
    const stdin = query.get('stdin') === 'true';
    // Messages that arrive while the exec is being set up are kept, in order.
    const early: Buffer[] = [];
    const keep = (data: Buffer) => early.push(data);
    ws.on('message', keep);
    const exec = await container.exec({ Cmd: command, AttachStdin: stdin, AttachStdout: query.get('stdout') !== 'false', AttachStderr: query.get('stderr') !== 'false' && !tty, Tty: tty });
    const stream = await exec.start({ hijack: true, stdin, Tty: tty });
    stream.on('error', () => undefined);
    // Messages take effect in the order sent: input after a resize finds the new size.
    let queue = Promise.resolve();
    const onMessage = (data: Buffer) => {
      const channel = data[0];
      const payload = data.subarray(1);
      queue = queue.then(async () => {
        if (channel === STDIN) stream.write(payload);
        else if (channel === RESIZE) {
          const size = JSON.parse(payload.toString('utf8')) as { Width: number; Height: number };
          await exec.resize({ h: size.Height, w: size.Width }).catch(() => undefined);
        } else if (channel === CLOSE && payload[0] === STDIN && ws.protocol === 'v5.channel.k8s.io') stream.end();
      });
    };
    ws.off('message', keep);
    for (const data of early) onMessage(data);
    ws.on('message', onMessage);
    // The client going away ends the attachment, not the process: the kubelet does not kill it either.
    ws.on('close', () => stream.destroy());
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.on('data', (chunk: Buffer) => send(ws, STDOUT, chunk));
    stderr.on('data', (chunk: Buffer) => send(ws, STDERR, chunk));
    if (tty) stream.pipe(stdout);
    else stream.pipe(demultiplexer(stdout, stderr));
    stream.on('close', () => {
      void exitCode(exec).then((code) => {
        const status =
          code === 0
            ? { metadata: {}, status: 'Success' }
            : {
                metadata: {},
                status: 'Failure',
                message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
                reason: 'NonZeroExitCode',
                details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
              };
        send(ws, STATUS, JSON.stringify(status));
        ws.close(1000);
      });
    });
  }

  private async attach(ws: WebSocket, container: Docker.Container, query: URLSearchParams): Promise<void> {
    const stream = (await container.attach({ stream: true, stdout: query.get('stdout') !== 'false', stderr: query.get('stderr') !== 'false', logs: false })) as NodeJS.ReadWriteStream;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.on('data', (chunk: Buffer) => send(ws, STDOUT, chunk));
    stderr.on('data', (chunk: Buffer) => send(ws, STDERR, chunk));
    stream.pipe(demultiplexer(stdout, stderr));
    ws.on('close', () => (stream as unknown as Duplex).destroy());
    stream.on('end', () => ws.close(1000));
  }

  private async portForward(ws: WebSocket, pod: { containerId: string; pid: number }, query: URLSearchParams): Promise<void> {
    const ports = query.getAll('ports').flatMap((p) => p.split(',')).map(Number);
    // What the client sends while the relay starts is kept, in order.
    const early: Buffer[] = [];
    const keep = (data: Buffer) => early.push(data);
    ws.on('message', keep);
    const relay = await this.relayOf(pod);
    ws.off('message', keep);
    // A client that left while the relay started (a readiness probe that opens and closes at once) gets no dial
    // inside the pod: one made after its close would hold the berth's server with a connection nobody ends.
    if (ws.readyState !== ws.OPEN) return;
    const streams = ports.map((port, i) => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16LE(port);
      send(ws, 2 * i, prefix);
      send(ws, 2 * i + 1, prefix);
      const conn = dialThroughRelay(relay, port);
      conn.then(
        (c) => {
          c.on('data', (chunk: Buffer) => send(ws, 2 * i, chunk));
          c.on('error', () => ws.close(1000));
          c.on('close', () => ws.close(1000));
          c.resume();
        },
        (err: Error) => {
          send(ws, 2 * i + 1, Buffer.from(`error forwarding port ${port} to pod, uid : ${err.message}`));
          ws.close(1000);
        },
      );
      return conn;
    });
    // Writes wait for their connection in the order they came.
    const onMessage = (data: Buffer) => {
      const channel = data[0] as number;
      if (channel % 2 === 0) void streams[channel / 2]?.then((c) => c.write(data.subarray(1)), () => undefined);
    };
    for (const data of early) onMessage(data);
    ws.on('message', onMessage);
    ws.on('close', () => streams.forEach((c) => void c.then((conn) => conn.destroy(), () => undefined)));
  }

  /** kubectl's plain SPDY/3.1 port-forward (spdyPortForward.ts), dialling through the pod's relay as the WebSocket one does. */
  private spdyPortForward(req: IncomingMessage, socket: Duplex, head: Buffer, pod: { containerId: string; pid: number }): void {
    spdyPortForward(req, socket, head, async (port) => dialThroughRelay(await this.relayOf(pod), port), (message) => refuse(socket, 400, message));
  }

  /**
   * One relay process per pod, inside the pod's network namespace (as the
   * kubelet dials), listening on a unix socket outside it: a connection
   * names a port on its first line and is then joined to localhost:<port>
   * in the pod, so listeners on the pod's loopback are reached too.
   */
  private relayOf(pod: { containerId: string; pid: number }): Promise<string> {
    let relay = this.relays.get(pod.containerId);
    if (!relay) {
      const path = join(tmpdir(), `berth-fake-relay-${pod.containerId.slice(0, 16)}.sock`);
      relay = new Promise<string>((resolve, reject) => {
        const child = spawn('nsenter', ['-t', String(pod.pid), '-n', '--', process.execPath, '-e', RELAY, path], { stdio: ['ignore', 'pipe', 'inherit'] });
        this.children.add(child);
        child.on('exit', (code) => {
          this.children.delete(child);
          this.relays.delete(pod.containerId);
          reject(new Error(`the relay into the pod's network namespace exited (${code})`));
        });
        child.stdout.once('data', () => resolve(path));
        child.once('error', reject);
      });
      this.relays.set(pod.containerId, relay);
    }
    return relay;
  }

  async log(namespace: string, name: string, query: URLSearchParams, res: ServerResponse): Promise<void> {
    const pod = this.kubelet.runtimeOf(namespace, name) ?? (await this.lastContainer(namespace, name));
    if (!pod) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify(statusBody(400, 'BadRequest', `container "berth" in pod "${name}" is waiting to start: ContainerCreating`)));
    }
    const tail = query.get('tailLines');
    const follow = query.get('follow') === 'true';
    const container = this.engine.getContainer(pod.containerId);
    const lines = tail === null ? undefined : Number(tail);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    const out = new PassThrough();
    out.pipe(res);
    if (follow) {
      const stream = await container.logs({ stdout: true, stderr: true, follow: true, tail: lines });
      stream.pipe(demultiplexer(out, new PassThrough().on('data', (c: Buffer) => out.write(c))));
      res.on('close', () => (stream as unknown as Duplex).destroy());
    } else {
      const body = await container.logs({ stdout: true, stderr: true, follow: false, tail: lines });
      const err = new PassThrough();
      err.on('data', (c: Buffer) => out.write(c));
      const demux = demultiplexer(out, err);
      demux.end(body);
    }
  }

  /** A pod whose container ended still has its logs, as on a node. */
  private async lastContainer(namespace: string, name: string): Promise<{ containerId: string } | undefined> {
    const found = await this.engine.listContainers({ all: true, filters: { label: [`${this.kubelet.labelKey}=${namespace}/${name}`] } });
    return found[0] ? { containerId: found[0].Id } : undefined;
  }
}

/** Runs inside the pod's network namespace: a unix socket server that joins each connection to localhost:<port> there. */
const RELAY = `
const net = require('node:net');
const fs = require('node:fs');
const path = process.argv[1];
try { fs.unlinkSync(path); } catch {}
net.createServer((client) => {
  client.once('data', (first) => {
    // Held until the dial inside the pod is done: what arrives meanwhile must not be lost.
    client.pause();
    const text = first.toString('utf8');
    const nl = text.indexOf('\\n');
    const port = Number(text.slice(0, nl));
    const rest = first.subarray(nl + 1);
    const upstream = net.connect({ port, host: 'localhost', autoSelectFamily: true });
    upstream.on('connect', () => {
      client.write('ok\\n');
      if (rest.length) upstream.write(rest);
      client.pipe(upstream).pipe(client);
    });
    upstream.on('error', (err) => client.end(err.message + '\\n'));
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
}).listen(path, () => process.stdout.write('ready\\n'));
`;

/**
 * A connection to localhost:<port> inside the pod through its relay, once the
 * relay's dial there succeeded; rejects with the dial's error as the kubelet
 * words it.
 */
function dialThroughRelay(relay: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const conn = connect(relay);
    conn.write(`${port}\n`);
    let line = '';
    const onData = (chunk: Buffer) => {
      // The relay answers one line first: "ok", or the error of its dial inside the pod.
      const text = chunk.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl < 0) return void (line += text);
      conn.off('data', onData);
      conn.pause();
      line += text.slice(0, nl);
      if (line !== 'ok') {
        conn.destroy();
        return reject(new Error(`failed to connect to localhost:${port} inside namespace: ${line}`));
      }
      const rest = chunk.subarray(Buffer.byteLength(text.slice(0, nl + 1)));
      if (rest.length) conn.unshift(rest);
      resolve(conn);
    };
    conn.on('data', onData);
    conn.once('error', reject);
  });
}

function send(ws: WebSocket, channel: number, data: Buffer | string): void {
  if (ws.readyState !== ws.OPEN) return;
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  ws.send(Buffer.concat([Buffer.from([channel]), payload]));
}

function refuse(socket: Duplex, code: number, message: string): void {
  const body = JSON.stringify(statusBody(code, 'BadRequest', message));
  socket.end(`HTTP/1.1 ${code} Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

async function exitCode(exec: Docker.Exec): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const info = await exec.inspect().catch(() => null);
    if (!info) return 137;
    if (!info.Running) return info.ExitCode ?? 0;
    await new Promise((r) => setTimeout(r, 20));
  }
  return 137;
}

import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Agent, Dispatcher } from 'undici';
import type { Endpoint } from '../../runtime/types.js';
import { originOf } from './agent.js';
import { sendFailureRaw, upstreamFailure } from './failure.js';
import { forwardRequestHeaders, forwardResponseHeaders, type ResponseHeaders } from './headers.js';
import type { UpgradeOptions } from './options.js';
import { joinTunnel } from './tunnel.js';

/**
 * A WebSocket (or any Upgrade) request: the handshake goes through the
 * upstream pool so the berth's answer is parsed, then the two sockets are
 * joined. A berth that declines the upgrade has its answer passed on and the
 * client's connection closed, because anything the client sent next on it
 * would reach the berth unfiltered.
 */
export function forwardUpgrade(
  agent: Agent,
  tunnels: Set<Duplex>,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  target: Endpoint,
  opts: UpgradeOptions,
): void {
  const forwarded = forwardRequestHeaders(req, { scheme: opts.scheme, strip: opts.strip, add: opts.addHeaders, target });
  const handshake = new Handshake(tunnels, client, head, target, opts);
  // Until the berth answers, a client that leaves (or resets: an 'error'
  // without a listener would crash the gateway) takes the handshake with it.
  client.on('error', handshake.abandon);
  client.on('close', handshake.abandon);
  agent.dispatch(
    { origin: originOf(target), path: req.url as string, method: req.method as string, headers: forwarded.headers, upgrade: forwarded.upgrade },
    handshake,
  );
}

class Handshake implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private answered = false;

  constructor(
    private readonly tunnels: Set<Duplex>,
    private readonly client: Duplex,
    private readonly head: Buffer,
    private readonly target: Endpoint,
    private readonly opts: UpgradeOptions,
  ) {}

  readonly abandon = (): void => {
    if (this.controller === null) return;
    this.controller.abort(new Error('the client went away'));
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.client.destroyed) this.abandon();
  }

  onRequestUpgrade(_controller: Dispatcher.DispatchController, status: number, headers: ResponseHeaders, upstream: Duplex): void {
    const { client } = this;
    this.answered = true;
    client.off('error', this.abandon);
    client.off('close', this.abandon);
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    this.opts.onStatus?.(101);
    client.write(statusLine(status, STATUS_CODES[status]) + headerLines(forwardResponseHeaders(headers, true)) + 'Connection: Upgrade\r\n\r\n');
    if (this.head.length > 0) upstream.write(this.head);
    joinTunnel(this.tunnels, client, upstream, this.opts);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: ResponseHeaders, statusMessage?: string): void {
    // An interim answer (103 Early Hints); the final one follows.
    if (status < 200) return;
    this.answered = true;
    this.opts.onStatus?.(status);
    this.client.write(statusLine(status, statusMessage) + headerLines(forwardResponseHeaders(headers, false)) + 'connection: close\r\n\r\n');
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.client.write(chunk)) return;
    controller.pause();
    this.client.once('drain', () => controller.resume());
  }

  onResponseEnd(): void {
    this.client.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const { client } = this;
    if (client.destroyed) return;
    // Part of the berth's answer is out: a cut connection is the only honest signal.
    if (this.answered) {
      client.destroy();
      return;
    }
    this.answered = true;
    const error = upstreamFailure(err, this.target);
    this.opts.onError?.(error);
    this.opts.onStatus?.(error.status);
    sendFailureRaw(client, error);
  }
}

function statusLine(status: number, message: string | undefined): string {
  return `HTTP/1.1 ${status} ${message ?? ''}\r\n`;
}

function headerLines(flat: readonly string[]): string {
  let text = '';
  for (let i = 0; i < flat.length; i += 2) text += `${flat[i]}: ${flat[i + 1]}\r\n`;
  return text;
}

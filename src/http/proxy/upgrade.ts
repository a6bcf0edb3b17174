import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { BerthPort } from '../../runtime/types.js';
import { hostOf } from './agent.js';
import { sendFailureRaw, upstreamFailure } from './failure.js';
import { forwardRequestHeaders, forwardResponseHeaders } from './headers.js';
import type { UpgradeOptions } from './options.js';
import { joinTunnel } from './tunnel.js';
import type { UpgradeAgent } from './upgradeAgent.js';

/**
 * A WebSocket (or any Upgrade) request: the handshake goes through Node's
 * client (see UpgradeAgent for why not undici) so the berth's answer is
 * parsed, then the two sockets are joined.
 * A berth that declines the upgrade has its answer passed on and the client's
 * connection closed, because anything the client sent next on it would reach
 * the berth unfiltered.
 */
export function forwardUpgrade(
  agent: UpgradeAgent,
  tunnels: Set<Duplex>,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  target: BerthPort,
  opts: UpgradeOptions,
): void {
  const forwarded = forwardRequestHeaders(req, { scheme: opts.scheme, strip: opts.strip, add: opts.addHeaders, target });
  const headers = forwarded.upgrade === undefined ? forwarded.headers : [...forwarded.headers, 'Connection', 'Upgrade', 'Upgrade', forwarded.upgrade];

  let answered = false;
  const fail = (err: unknown): void => {
    if (client.destroyed) return;
    if (answered) {
      client.destroy();
      return;
    }
    answered = true;
    const error = upstreamFailure(err, target);
    opts.onError?.(error);
    opts.onStatus?.(error.status);
    sendFailureRaw(client, error);
  };

  let handshake: ReturnType<typeof request>;
  try {
    handshake = request({ host: hostOf(target), port: target.port, method: req.method, path: req.url, headers, agent });
  } catch (err) {
    fail(err);
    return;
  }
  // Until the berth answers, a client that leaves (or resets: an 'error'
  // without a listener would crash the gateway) takes the handshake with it.
  const abandon = (): void => {
    handshake.destroy();
  };
  client.on('error', abandon);
  client.on('close', abandon);

  handshake.on('error', fail);
  handshake.on('response', (res: IncomingMessage) => {
    answered = true;
    opts.onStatus?.(res.statusCode as number);
    client.write(statusLine(res) + headerLines(forwardResponseHeaders(res.headersDistinct, false, opts)) + 'connection: close\r\n\r\n');
    res.on('close', () => {
      if (!res.complete) client.destroy();
    });
    res.pipe(client);
  });
  handshake.on('upgrade', (res: IncomingMessage, upstream: Socket, upstreamHead: Buffer) => {
    answered = true;
    client.off('error', abandon);
    client.off('close', abandon);
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    opts.onStatus?.(101);
    client.write(statusLine(res) + headerLines(forwardResponseHeaders(res.headersDistinct, true, opts)) + 'Connection: Upgrade\r\n\r\n');
    if (upstreamHead.length > 0) client.write(upstreamHead);
    if (head.length > 0) upstream.write(head);
    joinTunnel(tunnels, client, upstream, opts);
  });
  handshake.end();
}

function statusLine(res: IncomingMessage): string {
  return `HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}\r\n`;
}

function headerLines(flat: readonly string[]): string {
  let text = '';
  for (let i = 0; i < flat.length; i += 2) text += `${flat[i]}: ${flat[i + 1]}\r\n`;
  return text;
}

import { request, type Agent, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Endpoint } from '../../runtime/types.js';
import { sendFailure, upstreamFailure } from './failure.js';
import { forwardRequestHeaders, forwardResponseHeaders, type ForwardedRequest } from './headers.js';
import type { ForwardOptions } from './options.js';

/**
 * One request to the berth and its response back, both streamed with
 * backpressure, so a body of any size costs a few buffers. Whichever side goes
 * away first takes the other with it: a client that leaves destroys the
 * upstream request, a berth that dies gives 502 or a cut connection.
 *
 * This is the hot path, so it allocates one Exchange per request and hangs it
 * on the emitters; the listeners are module-level functions that find it
 * through `this`, as Node's own http client does. No closures per request, and
 * no pipe() for the response, whose listener set-up and tear-down cost more
 * than the copying for the small responses most requests get.
 */
const kExchange = Symbol('berth.proxy.exchange');

interface Carrier {
  [kExchange]: Exchange;
}

class Exchange {
  upstream: ClientRequest | null = null;
  retried = false;
  clientGone = false;

  constructor(
    readonly agent: Agent,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly target: Endpoint,
    readonly opts: ForwardOptions,
    readonly forwarded: ForwardedRequest,
  ) {}
}

function exchangeOf(emitter: object): Exchange {
  return (emitter as Carrier)[kExchange];
}

export function forwardWeb(agent: Agent, req: IncomingMessage, res: ServerResponse, target: Endpoint, opts: ForwardOptions): void {
  const forwarded = forwardRequestHeaders(req, {
    scheme: opts.scheme,
    strip: opts.strip,
    add: opts.addHeaders,
    upgrade: false,
    target,
  });
  const exchange = new Exchange(agent, req, res, target, opts, forwarded);
  (res as unknown as Carrier)[kExchange] = exchange;
  res.on('close', onClientClose);
  send(exchange);
}

function send(exchange: Exchange): void {
  const { req, target, forwarded } = exchange;
  let upstream: ClientRequest;
  try {
    upstream = request({ host: target.host, port: target.port, method: req.method, path: req.url, headers: forwarded.headers, agent: exchange.agent });
  } catch (err) {
    // Only a header the caller added can be invalid here (Node's parser vetted the client's).
    fail(exchange, err);
    return;
  }
  exchange.upstream = upstream;
  (upstream as unknown as Carrier)[kExchange] = exchange;
  upstream.on('response', onUpstreamResponse);
  upstream.on('error', onUpstreamError);
  if (forwarded.body) req.pipe(upstream);
  else upstream.end();
}

function fail(exchange: Exchange, err: unknown): void {
  const error = upstreamFailure(err, exchange.target);
  exchange.opts.onError?.(error);
  if (!exchange.res.headersSent) exchange.opts.onStatus?.(error.status);
  sendFailure(exchange.res, error);
}

function onClientClose(this: ServerResponse): void {
  if (this.writableFinished) return;
  const exchange = exchangeOf(this);
  exchange.clientGone = true;
  exchange.upstream?.destroy();
}

function onUpstreamError(this: ClientRequest, err: NodeJS.ErrnoException): void {
  const exchange = exchangeOf(this);
  if (exchange.clientGone) return;
  // A pooled connection the berth closed while idle fails at once with a
  // reset; a request without a body has consumed nothing, so it is safe to
  // send again once, on a fresh connection (Node's documented remedy).
  if (!exchange.retried && !exchange.forwarded.body && this.reusedSocket && !exchange.res.headersSent && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
    exchange.retried = true;
    send(exchange);
    return;
  }
  fail(exchange, err);
}

function onUpstreamResponse(this: ClientRequest, upRes: IncomingMessage): void {
  const exchange = exchangeOf(this);
  const status = upRes.statusCode as number;
  exchange.opts.onStatus?.(status);
  exchange.res.writeHead(status, upRes.statusMessage, forwardResponseHeaders(upRes.rawHeaders, false));
  (upRes as unknown as Carrier)[kExchange] = exchange;
  upRes.on('data', onUpstreamData);
  upRes.on('end', onUpstreamEnd);
  upRes.on('close', onUpstreamClose);
}

function onUpstreamData(this: IncomingMessage, chunk: Buffer): void {
  const res = exchangeOf(this).res;
  if (!res.write(chunk)) {
    this.pause();
    res.once('drain', () => this.resume());
  }
}

function onUpstreamEnd(this: IncomingMessage): void {
  exchangeOf(this).res.end();
}

function onUpstreamClose(this: IncomingMessage): void {
  // The berth died mid-body: the client must see a broken response, not a short one.
  if (!this.complete) exchangeOf(this).res.destroy();
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Agent, Dispatcher } from 'undici';
import type { BerthPort } from '../../runtime/types.js';
import { originOf } from './agent.js';
import { sendFailure, upstreamFailure } from './failure.js';
import { forwardRequestHeaders, forwardResponseHeaders, type ForwardedRequest, type ResponseHeaders } from './headers.js';
import type { ForwardOptions } from './options.js';

/**
 * One request to the berth and its response back, both streamed with
 * backpressure, so a body of any size costs a few buffers. Whichever side goes
 * away first takes the other with it: a client that leaves aborts the
 * upstream request, a berth that dies gives 502 or a cut connection.
 *
 * This is the hot path, so one Exchange per request is both undici's handler
 * and the state; the client's listeners are module-level functions that find
 * it through `this`, so no closure is allocated per request.
 */
const kExchange = Symbol('berth.proxy.exchange');

interface Carrier {
  [kExchange]: Exchange;
}

/** Methods a berth must treat as safe to receive twice (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** The ways a kept-alive connection the berth closed while idle fails when reused. */
const DROPPED = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

class Exchange implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | null = null;
  retried = false;
  clientGone = false;

  constructor(
    readonly agent: Agent,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly target: BerthPort,
    readonly opts: ForwardOptions,
    readonly forwarded: ForwardedRequest,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new Error('the client went away'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: ResponseHeaders, statusMessage?: string): void {
    // An interim answer (103 Early Hints); the final one follows.
    if (status < 200) return;
    this.opts.onStatus?.(status);
    this.res.writeHead(status, statusMessage, forwardResponseHeaders(headers, false, this.opts));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.res.write(chunk)) return;
    controller.pause();
    this.res.once('drain', onClientDrain);
  }

  onResponseEnd(): void {
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.clientGone) return;
    if (this.mayRetry(err)) {
      this.retried = true;
      send(this);
      return;
    }
    const error = upstreamFailure(err, this.target);
    this.opts.onError?.(error);
    if (!this.res.headersSent) this.opts.onStatus?.(error.status);
    sendFailure(this.res, error);
  }

  /**
   * A pooled connection the berth closed while idle fails at once; a request
   * without a body that is safe to repeat has consumed nothing, so it goes
   * again once, on another connection (what nginx's proxy_next_upstream does).
   */
  private mayRetry(err: Error): boolean {
    const code = (err as NodeJS.ErrnoException).code;
    return !this.retried && !this.forwarded.body && !this.res.headersSent && code !== undefined && DROPPED.has(code) && IDEMPOTENT.has(this.req.method as string);
  }
}

function exchangeOf(emitter: object): Exchange {
  return (emitter as Carrier)[kExchange];
}

export function forwardWeb(agent: Agent, req: IncomingMessage, res: ServerResponse, target: BerthPort, opts: ForwardOptions): void {
  const forwarded = forwardRequestHeaders(req, {
    scheme: opts.scheme,
    strip: opts.strip,
    add: opts.addHeaders,
    target,
  });
  const exchange = new Exchange(agent, req, res, target, opts, forwarded);
  (res as unknown as Carrier)[kExchange] = exchange;
  res.on('close', onClientClose);
  send(exchange);
}

function send(exchange: Exchange): void {
  const { req, forwarded } = exchange;
  exchange.agent.dispatch(
    { origin: originOf(exchange.target), path: req.url as string, method: req.method as string, headers: forwarded.headers, body: forwarded.body ? req : null },
    exchange,
  );
}

function onClientClose(this: ServerResponse): void {
  if (this.writableFinished) return;
  const exchange = exchangeOf(this);
  exchange.clientGone = true;
  exchange.controller?.abort(new Error('the client went away'));
}

function onClientDrain(this: ServerResponse): void {
  exchangeOf(this).controller?.resume();
}

import type { Duplex } from 'node:stream';
import type { UpgradeOptions } from './options.js';

/** How long a side that has finished may take to flush to a peer that stopped reading, before it is cut. */
const FLUSH_GRACE_MS = 5_000;

/**
 * Joins an upgraded client connection to the berth's: bytes flow both ways
 * with backpressure; an end on one side ends the other after what is in
 * flight is flushed; an error on either destroys both. Every path ends in both
 * sockets closed and the tunnel forgotten, so nothing outlives it.
 *
 * Idle WebSockets are held by the thousand, so a tunnel costs one small object:
 * the listeners are module-level functions that find their tunnel and peer
 * through `this`, instead of the eighteen closures two pipe() calls allocate.
 */
const kTunnel = Symbol('berth.proxy.tunnel');
const kPeer = Symbol('berth.proxy.peer');

interface TunnelEnd extends Duplex {
  [kTunnel]: Tunnel;
  [kPeer]: Duplex;
}

class Tunnel {
  closed = false;

  constructor(
    readonly tunnels: Set<Duplex>,
    readonly client: Duplex,
    readonly upstream: Duplex,
    readonly opts: UpgradeOptions,
  ) {}
}

export function joinTunnel(tunnels: Set<Duplex>, client: Duplex, upstream: Duplex, opts: UpgradeOptions): void {
  const tunnel = new Tunnel(tunnels, client, upstream, opts);
  tunnels.add(client);
  link(client, upstream, tunnel);
  link(upstream, client, tunnel);
}

function link(from: Duplex, to: Duplex, tunnel: Tunnel): void {
  const end = from as TunnelEnd;
  end[kTunnel] = tunnel;
  end[kPeer] = to;
  from.on('data', relayData);
  from.on('drain', resumePeer);
  from.on('end', endPeer);
  from.on('error', destroyTunnel);
  from.on('close', onEndClosed);
}

function relayData(this: TunnelEnd, chunk: Buffer): void {
  const tunnel = this[kTunnel];
  // Only what the client sends counts as activity: a berth pushing to a forgotten tab must not keep it alive.
  if (this === tunnel.client) tunnel.opts.onClientData?.(chunk.length);
  if (!this[kPeer].write(chunk)) this.pause();
}

/** This side can take data again, so the peer writing into it may read on. */
function resumePeer(this: TunnelEnd): void {
  this[kPeer].resume();
}

function endPeer(this: TunnelEnd): void {
  this[kPeer].end();
}

function destroyTunnel(this: TunnelEnd): void {
  const tunnel = this[kTunnel];
  tunnel.client.destroy();
  tunnel.upstream.destroy();
}

function onEndClosed(this: TunnelEnd): void {
  endAfterFlush(this[kPeer]);
  const tunnel = this[kTunnel];
  if (tunnel.closed) return;
  tunnel.closed = true;
  tunnel.tunnels.delete(tunnel.client);
  tunnel.opts.onClose?.();
}

function endAfterFlush(socket: Duplex): void {
  if (socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), FLUSH_GRACE_MS);
  timer.unref();
  socket.end(() => {
    clearTimeout(timer);
    socket.destroy();
  });
}

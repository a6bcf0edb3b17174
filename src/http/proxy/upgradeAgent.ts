import { Agent, type ClientRequestArgs } from 'node:http';
import { createConnection, type NetConnectOpts, type Socket } from 'node:net';

/**
 * The connections WebSocket handshakes go out on. Upgrades take node:http's
 * client rather than the request pool's undici: an upgraded connection is
 * held for hours by the thousand, and handed over by node:http it costs the
 * gateway a few KiB less each (bench:websockets). An upgraded socket is never
 * reused, so nothing is kept alive; a berth that neither accepts nor refuses
 * fails after the connect timeout rather than hanging.
 */
export class UpgradeAgent extends Agent {
  constructor(
    maxSocketsPerBerth: number,
    private readonly connectTimeoutMs: number,
  ) {
    super({ keepAlive: false, maxSockets: maxSocketsPerBerth });
  }

  override createConnection(options: ClientRequestArgs): Socket {
    const socket = createConnection({ ...(options as NetConnectOpts), noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error(`connect timed out after ${this.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, this.connectTimeoutMs);
    // Plain listeners removed by hand: once() would leave a wrapper and the
    // timer behind on 'close' for as long as the connection lives.
    const clear = (): void => {
      clearTimeout(timer);
      socket.off('connect', clear);
      socket.off('close', clear);
    };
    socket.on('connect', clear);
    socket.on('close', clear);
    return socket;
  }
}

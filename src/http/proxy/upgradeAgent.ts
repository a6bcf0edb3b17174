import { Agent, type ClientRequestArgs } from 'node:http';
import type { Duplex } from 'node:stream';
import { berthPortOf, type ConnectBerth } from './agent.js';

/**
 * The connections WebSocket handshakes go out on. Upgrades take node:http's
 * client rather than the request pool's undici: an upgraded connection is
 * held for hours by the thousand, and handed over by node:http it costs the
 * gateway a few KiB less each (bench:websockets). An upgraded socket is never
 * reused, so nothing is kept alive. Connections come from the runtime's
 * connect, which bounds the time a berth may take to accept.
 */
export class UpgradeAgent extends Agent {
  constructor(
    maxSocketsPerBerth: number,
    private readonly connect: ConnectBerth,
  ) {
    super({ keepAlive: false, maxSockets: maxSocketsPerBerth });
  }

  override createConnection(options: ClientRequestArgs, created: (err: Error | null, stream: Duplex | null) => void): undefined {
    this.connect(berthPortOf(options.host ?? '', options.port)).then(
      (stream) => created(null, stream),
      (err: Error) => created(err, null),
    );
    return undefined;
  }
}

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { checkUpgradeOrigin } from '../auth/csrf/origin.js';
import type { Authenticator } from '../auth/types.js';
import { bearerToken, type Tokens } from '../auth/token/tokens.js';
import type { Config } from '../config/schema.js';
import { BerthError } from '../core/errors.js';
import { noteBerth, noteStatus, noteUser } from '../http/accessLog.js';
import type { Logger } from '../log/logger.js';
import type { BerthPort } from '../runtime/types.js';
import type { BerthDirectory } from '../spawner/types.js';
import type { Store } from '../store/store.js';
import { verdict } from './access.js';

const PATH = /^\/_berth\/api\/me\/tunnel\/([1-9][0-9]{0,4})$/;

export interface TunnelsDeps {
  config: Config;
  directory: BerthDirectory;
  store: Store;
  tokens: Tokens;
  authenticator: Authenticator;
  logger: Logger;
}

/**
 * GET /_berth/api/me/tunnel/<port>[?user=<owner>] as a WebSocket: each
 * connection carries one TCP connection to that port of the caller's berth
 * (or of another user's, where its share level admits the caller), binary
 * frames both ways. `berth forward` is its client. Credentials: a Berth
 * token (scope api or apps) in Authorization, or the gateway session of a
 * page on the gateway's own origin.
 */
export class Tunnels {
  private readonly server = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly origin: string;

  constructor(private readonly deps: TunnelsDeps) {
    this.origin = new URL(deps.config.publicUrl).origin;
  }

  /** The port a tunnel path names, or null when the path is not a tunnel's. */
  portOf(path: string): number | null {
    const match = PATH.exec(path);
    const port = match === null ? NaN : Number(match[1]);
    return port >= 1 && port <= 65535 ? port : null;
  }

  async handle(req: IncomingMessage, socket: Duplex, head: Buffer, port: number): Promise<void> {
    const { directory, config } = this.deps;
    const visitor = await this.identify(req);
    const owner = new URL(req.url ?? '/', 'http://gateway.invalid').searchParams.get('user') ?? visitor;
    let target: BerthPort;
    if (owner === visitor) {
      await directory.ready(owner, 'tunnel', config.spawn.holdSeconds * 1000);
      target = directory.target(owner, port);
    } else {
      const share = await this.deps.store.share(owner, port);
      if (verdict(share, owner, visitor) !== 'allowed') {
        throw new BerthError({ code: 'forbidden', userMessage: `Port ${port} of ${owner} is not shared with you; ask them to share it with signed-in users.` });
      }
      if (directory.readyTarget(owner) === null) {
        throw new BerthError({ code: 'berth_stopped', userMessage: `The environment of ${owner} is not running; they can start it.` });
      }
      target = directory.target(owner, port);
    }
    const upstream = await directory.connect(target);
    if (socket.destroyed) {
      upstream.destroy();
      return;
    }
    // ws answers a malformed handshake itself (400) without calling back: the berth's connection must not outlive it.
    const abandon = () => upstream.destroy();
    socket.once('close', abandon);
    this.server.handleUpgrade(req, socket, head, (ws) => {
      socket.off('close', abandon);
      noteUser(socket, visitor);
      noteBerth(socket, owner, port);
      noteStatus(socket, 101);
      const release = directory.hold(owner);
      const stream = createWebSocketStream(ws);
      const close = () => {
        stream.destroy();
        upstream.destroy();
      };
      stream.on('error', close);
      upstream.on('error', close);
      upstream.once('close', () => {
        release();
        stream.end();
      });
      stream.pipe(upstream);
      upstream.pipe(stream);
      this.deps.logger.debug({ user: visitor, owner, port }, 'tunnel opened');
    });
  }

  private async identify(req: IncomingMessage): Promise<string> {
    const token = bearerToken(req);
    if (token !== null) return (await this.deps.tokens.check(token, ['api', 'apps'], req.socket.remoteAddress ?? null)).user.name;
    // A page on another site could open a WebSocket with the visitor's cookies: only the gateway's own pages may.
    const crossOrigin = checkUpgradeOrigin(req, this.origin);
    if (crossOrigin) throw crossOrigin;
    const result = await this.deps.authenticator.authenticate(req);
    if ('user' in result) return result.user.name;
    if ('refused' in result) throw result.refused;
    throw new BerthError({ code: 'unauthenticated', userMessage: 'Send a Berth token: Authorization: Bearer berth_… (scope api or apps); berth forward --token does.' });
  }
}

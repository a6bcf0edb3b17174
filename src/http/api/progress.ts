import type { RouteContext } from '../routes.js';
import type { BerthDirectory } from '../../spawner/types.js';

const KEEPALIVE_MS = 15_000;

/**
 * GET /_berth/api/me/progress: server-sent events. First a `state` event with
 * the berth's state, then every `progress` event of the current spawn
 * (replayed) and of later ones, until the client goes away.
 */
export function progressStream(directory: BerthDirectory) {
  return ({ req, res, user }: RouteContext): void => {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const status = directory.status(user.name);
    send('state', { state: status.state, failure: status.failure });
    const unsubscribe = directory.subscribe(user.name, (event, current) => send('progress', { ...event, state: current.state }));
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    const close = () => {
      clearInterval(keepalive);
      unsubscribe();
    };
    req.once('close', close);
    res.once('error', close);
  };
}

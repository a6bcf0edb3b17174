import { createServer, type Server, type Socket } from 'node:net';
import WebSocket, { createWebSocketStream } from 'ws';
import { BerthError } from '../core/errors.js';

export interface ForwardArgs {
  gateway: string;
  token: string;
  localPort: number;
  /** Another user's berth (a port they shared), or null for one's own. */
  user: string | null;
  port: number;
}

export const FORWARD_USAGE = 'berth forward [--gateway URL] [--token T] LOCALPORT [USER/]PORT';

function usage(problem: string): BerthError {
  return new BerthError({ code: 'bad_request', userMessage: `${problem}\nUsage: ${FORWARD_USAGE}` });
}

function portNumber(text: string | undefined, what: string): number {
  const port = text !== undefined && /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw usage(`${what} must be a port from 1 to 65535, not ${JSON.stringify(text ?? '')}.`);
  return port;
}

/** Reads the arguments after `forward`; the gateway and token default to $BERTH_URL and $BERTH_TOKEN. */
export function parseForwardArgs(args: readonly string[], env: NodeJS.ProcessEnv): ForwardArgs {
  let gateway = env.BERTH_URL ?? 'http://127.0.0.1:8000';
  let token = env.BERTH_TOKEN ?? '';
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (flag === '--gateway' || flag === '--token') {
      const value = inline ?? args[++i];
      if (value === undefined) throw usage(`${flag} needs a value.`);
      if (flag === '--gateway') gateway = value;
      else token = value;
    } else if (arg.startsWith('-')) {
      throw usage(`Unknown option ${arg}.`);
    } else {
      positional.push(arg);
    }
  }
  if (positional.length !== 2) throw usage('Name a local port and a berth port.');
  try {
    const url = new URL(gateway);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw usage(`--gateway must be the gateway's http:// or https:// URL, not ${JSON.stringify(gateway)}.`);
  }
  if (token === '') throw usage('Give a Berth token (scope api or apps) with --token or $BERTH_TOKEN; create one with POST /_berth/api/me/tokens.');
  const target = positional[1] as string;
  const slash = target.lastIndexOf('/');
  return {
    gateway,
    token,
    localPort: portNumber(positional[0], 'LOCALPORT'),
    user: slash === -1 ? null : target.slice(0, slash) || null,
    port: portNumber(slash === -1 ? target : target.slice(slash + 1), 'PORT'),
  };
}

/** The tunnel's WebSocket address on the gateway. */
export function tunnelUrl(args: ForwardArgs): string {
  const url = new URL(`/_berth/api/me/tunnel/${args.port}`, args.gateway);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (args.user !== null) url.searchParams.set('user', args.user);
  return url.href;
}

/**
 * Listens on 127.0.0.1:LOCALPORT and carries each connection through its own
 * WebSocket to the gateway's tunnel, so whatever speaks TCP (a database
 * client, a debugger) reaches the port in the berth. Resolves once listening.
 */
export async function startForward(args: ForwardArgs, report: (line: string) => void): Promise<Server> {
  const url = tunnelUrl(args);
  const server = createServer((local: Socket) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${args.token}` }, perMessageDeflate: false });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        report(`berth forward: the gateway refused the tunnel (${res.statusCode}): ${messageOf(body)}`);
        local.destroy();
      });
    });
    const remote = createWebSocketStream(ws);
    remote.on('error', (err) => {
      if (!local.destroyed) report(`berth forward: ${err.message}`);
      local.destroy();
    });
    local.on('error', () => remote.destroy());
    local.pipe(remote).pipe(local);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(args.localPort, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

function messageOf(body: string): string {
  try {
    return (JSON.parse(body) as { error: { message: string } }).error.message;
  } catch {
    return body.slice(0, 200) || 'no reason given';
  }
}

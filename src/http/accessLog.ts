import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/logger.js';
import { clientAddress } from './clientAddress.js';
import { pathOf } from './gatewayPath.js';

/**
 * log.access: one line per request the gateway answers or proxies, and per
 * upgrade (a WebSocket, a tunnel, the terminal) when its connection closes.
 * The gateway starts an entry on the response (or the upgraded socket); the
 * steps that learn something (the sign-in, the forwarder) note it on that same
 * object through the note* functions, which do nothing when no entry is there:
 * with the log off, a request pays one missing-property lookup per note and
 * allocates nothing.
 *
 * A line names the path without its query, the user and berth, never a
 * header, cookie, token or query: those carry credentials.
 */
const kEntry = Symbol('berth.access.entry');
/** Per connection: its byte counts when its last line was written, so each request on a kept-alive connection counts its own bytes. */
const kMark = Symbol('berth.access.mark');

export type AccessRoute = 'berth' | 'app' | 'gateway';

interface Entry {
  log: AccessLog;
  req: IncomingMessage;
  /** Taken at the start: a response that closes has already let go of its connection, which may be gone. */
  socket: Socket;
  peer: string | undefined;
  startedAt: number;
  user: string | null;
  berth: string | null;
  port: number | null;
  upstreamStartedAt: number;
  upstreamMs: number | null;
  /** Upgrades only: what was answered on the raw socket (101, or a refusal). */
  status: number | null;
}

interface Carrier {
  [kEntry]?: Entry;
}

interface Marked {
  [kMark]?: { read: number; written: number };
}

const MAX_PATH = 1024;

/** The signed-in user (or an app host's visitor) behind this request. */
export function noteUser(carrier: object, user: string): void {
  const entry = (carrier as Carrier)[kEntry];
  if (entry !== undefined) entry.user = user;
}

/** The request goes to `owner`'s berth, on `port`: the upstream clock starts. */
export function noteBerth(carrier: object, owner: string, port: number): void {
  const entry = (carrier as Carrier)[kEntry];
  if (entry === undefined) return;
  entry.berth = owner;
  entry.port = port;
  entry.upstreamStartedAt = performance.now();
}

/** The berth's answer (its status line) arrived. */
export function noteUpstreamAnswer(carrier: object): void {
  const entry = (carrier as Carrier)[kEntry];
  if (entry !== undefined && entry.upstreamMs === null) entry.upstreamMs = performance.now() - entry.upstreamStartedAt;
}

/** What an upgrade was answered on its raw socket (a ServerResponse knows its own status). */
export function noteStatus(carrier: object, status: number): void {
  const entry = (carrier as Carrier)[kEntry];
  if (entry !== undefined) entry.status = status;
}

export class AccessLog {
  constructor(
    private readonly logger: Logger,
    private readonly isTrusted: (address: string) => boolean,
    private readonly routeOf: (req: IncomingMessage) => AccessRoute,
  ) {}

  /** Starts the entry of a request; its line is written when the response closes (finished or cut). */
  request(req: IncomingMessage, res: ServerResponse): void {
    (res as Carrier)[kEntry] = this.entry(req);
    res.once('close', onResponseClose);
  }

  /** Starts the entry of an upgrade; its line is written when the connection closes. */
  upgrade(req: IncomingMessage, socket: Duplex): void {
    (socket as Carrier)[kEntry] = this.entry(req);
    socket.once('close', onSocketClose);
  }

  write(entry: Entry, status: number | null, completed: boolean): void {
    const { req, socket } = entry;
    const mark = ((socket as Marked)[kMark] ??= { read: 0, written: 0 });
    const bytesIn = socket.bytesRead - mark.read;
    const bytesOut = socket.bytesWritten - mark.written;
    mark.read = socket.bytesRead;
    mark.written = socket.bytesWritten;
    this.logger.info(
      {
        user: entry.user,
        method: req.method,
        path: cutPath(pathOf(req.url)),
        status,
        completed,
        bytesIn,
        bytesOut,
        ms: roundMs(performance.now() - entry.startedAt),
        upstreamMs: entry.upstreamMs === null ? null : roundMs(entry.upstreamMs),
        berth: entry.berth,
        port: entry.port,
        client: clientAddress(entry.peer, req, this.isTrusted),
        route: this.routeOf(req),
      },
      'request',
    );
  }

  private entry(req: IncomingMessage): Entry {
    return { log: this, req, socket: req.socket, peer: req.socket.remoteAddress, startedAt: performance.now(), user: null, berth: null, port: null, upstreamStartedAt: 0, upstreamMs: null, status: null };
  }
}

function onResponseClose(this: ServerResponse): void {
  const entry = (this as Carrier)[kEntry] as Entry;
  entry.log.write(entry, this.headersSent ? this.statusCode : null, this.writableFinished);
}

function onSocketClose(this: Socket): void {
  const entry = (this as Carrier)[kEntry] as Entry;
  entry.log.write(entry, entry.status, entry.status !== null);
}

/** A line stays a line: a path of any length is cut. */
function cutPath(path: string): string {
  return path.length > MAX_PATH ? path.slice(0, MAX_PATH) : path;
}

function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}

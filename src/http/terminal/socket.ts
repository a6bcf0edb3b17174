import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AuditRecorder } from '../../audit/kinds.js';
import { checkUpgradeOrigin } from '../../auth/csrf/origin.js';
import type { Authenticated, Authenticator } from '../../auth/types.js';
import type { Config } from '../../config/schema.js';
import { BerthError, asBerthError } from '../../core/errors.js';
import { noteStatus, noteUser } from '../accessLog.js';
import type { Logger } from '../../log/logger.js';
import type { BerthDirectory } from '../../spawner/types.js';
import { ensureBerth, failureReport } from '../../ssh/progress.js';
import type { SharedTerminal, TerminalClient, TerminalHub, TerminalSize } from '../../terminal/hub.js';
import { startProcess } from '../../terminal/pty.js';
import { RECORDING_BANNER, type Recordings } from '../../terminal/recordings.js';
import { terminalOwner } from './owner.js';
import { TERMINAL_PROTOCOL, ticketOf, type TerminalTickets } from './tickets.js';

export const TERMINAL_SOCKET_PATH = '/_berth/api/me/terminal';

export interface TerminalSocketsDeps {
  config: Config;
  audit: AuditRecorder;
  directory: BerthDirectory;
  authenticator: Authenticator;
  tickets: TerminalTickets;
  hub: TerminalHub;
  recordings: Recordings;
  logger: Logger;
}

const DEFAULT_SIZE: TerminalSize = { cols: 80, rows: 24 };
const MAX_COLS = 1000;
const MAX_ROWS = 500;
const EOL = '\r\n';
/** Output queued for one tab beyond which it is cut (and reconnects to a fresh screen). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** The WebSocket close code a page takes for "the terminal has ended; do not reconnect". */
export const ENDED_CLOSE_CODE = 4000;

/**
 * The web terminal's socket, GET /_berth/api/me/terminal[?cols=&rows=&user=]
 * as a WebSocket: the shell of the caller's berth (or, for an admin with
 * terminal.adminAccess, of `user`'s), started first with the berth's
 * progress written to the screen. A handshake must come from the gateway's
 * own origin (the one Origin rule), carry the session cookie, and offer a
 * fresh ticket (./tickets.ts) as a subprotocol. Binary frames carry the
 * screen and the keys; text frames are JSON control messages: from the
 * page {"type":"resize","cols","rows"} and {"type":"close"}, to it those of
 * TerminalControl.
 */
export class TerminalSockets {
  private readonly server = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 1024 * 1024,
    handleProtocols: (offered) => (offered.has(TERMINAL_PROTOCOL) ? TERMINAL_PROTOCOL : false),
  });
  private readonly origin: string;

  constructor(private readonly deps: TerminalSocketsDeps) {
    this.origin = new URL(deps.config.publicUrl).origin;
  }

  async handle(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // Before anything else, so a page on another origin learns nothing, not even whether someone is signed in.
    const crossOrigin = checkUpgradeOrigin(req, this.origin);
    if (crossOrigin) throw crossOrigin;
    const signIn = await this.signIn(req);
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    const owner = terminalOwner(url.searchParams.get('user'), signIn.user, this.deps.config);
    const ticket = ticketOf(header(req, 'sec-websocket-protocol'));
    if (!(await this.deps.tickets.redeem(ticket, signIn.sessionId, signIn.user.name, owner))) {
      throw new BerthError({
        code: 'forbidden',
        userMessage: 'This terminal ticket is missing, used or expired; reload the terminal page to get a new one.',
        logMessage: ticket === '' ? 'terminal handshake without a ticket' : 'terminal ticket unknown, spent, expired or issued to another session or berth',
      });
    }
    const size = sizeOf(url);
    const source = req.socket.remoteAddress ?? null;
    this.server.handleUpgrade(req, socket, head, (ws) => {
      noteUser(socket, signIn.user.name);
      noteStatus(socket, 101);
      void this.serve(ws, signIn.user.name, owner, size, source);
    });
  }

  private async serve(ws: WebSocket, visitor: string, owner: string, size: TerminalSize, source: string | null): Promise<void> {
    const { directory, hub, recordings, audit, config } = this.deps;
    const logger = this.deps.logger.child({ user: visitor, owner });
    const write = (text: string) => ws.send(Buffer.from(text));
    let terminal: SharedTerminal | null = null;
    const client: TerminalClient = {
      output: (data) => {
        // A tab that cannot keep up is cut rather than buffered without bound: it reconnects and gets the screen as it is.
        if (ws.bufferedAmount > MAX_BUFFERED_BYTES) ws.terminate();
        else ws.send(data);
      },
      control: (message) => ws.send(JSON.stringify(message)),
      end: () => ws.close(ENDED_CLOSE_CODE, 'ended'),
    };
    ws.on('error', () => ws.terminate());
    ws.on('close', () => terminal?.detach(client));
    ws.on('message', (data: Buffer, isBinary) => {
      if (terminal === null) return;
      if (isBinary) {
        directory.touch(owner);
        terminal.input(data);
        return;
      }
      const message = control(data);
      if (message?.type === 'resize') terminal.resize(message.size);
      else if (message?.type === 'close') void terminal.close();
    });
    try {
      await ensureBerth(directory, owner, write, EOL);
      terminal = await hub.open(owner, size, async () => {
        const release = directory.hold(owner);
        try {
          const exec = { command: config.environment.shell, env: {}, tty: { term: 'xterm-256color', ...size } };
          const { proc, notice } = await startProcess(directory, owner, exec, recordings, { kind: 'terminal' });
          if (notice !== null) write(notice + EOL);
          logger.info('web terminal started');
          const ended = (exit: { code: number | null; signal: string | null }) => {
            release();
            audit.record({ kind: 'terminal.closed', actor: owner, via: 'gateway', source: null, target: owner, outcome: 'ok', detail: { exitStatus: exit.code, signal: exit.signal } });
          };
          return { proc, ended };
        } catch (err) {
          release();
          throw err;
        }
      });
      if (ws.readyState !== ws.OPEN) return;
      terminal.attach(client);
      if (recordings.enabled) client.control({ type: 'notice', text: RECORDING_BANNER });
      if (visitor !== owner) {
        logger.warn({ code: 'admin_terminal' }, 'an admin opened the web terminal of another user');
        terminal.notice(`${visitor} (an administrator) opened this terminal.`);
      }
      terminal.resize(size);
      logger.info('web terminal attached');
      audit.record({
        kind: 'terminal.opened',
        actor: visitor,
        via: config.auth.mode,
        source,
        target: owner,
        outcome: 'ok',
        detail: { admin: visitor !== owner, recorded: recordings.enabled },
      });
    } catch (err) {
      const error = asBerthError(err);
      logger.warn({ code: error.code, detail: error.logMessage }, 'web terminal could not open');
      if (ws.readyState === ws.OPEN) {
        write(failureReport(directory, owner, error, EOL));
        client.end();
      }
    }
  }

  private async signIn(req: IncomingMessage): Promise<Authenticated> {
    const result = await this.deps.authenticator.authenticate(req);
    if ('user' in result) return result;
    if ('refused' in result) throw result.refused;
    throw result.challenge.error;
  }
}

function sizeOf(url: URL): TerminalSize {
  const cols = bounded(url.searchParams.get('cols'), MAX_COLS);
  const rows = bounded(url.searchParams.get('rows'), MAX_ROWS);
  return cols === null || rows === null ? DEFAULT_SIZE : { cols, rows };
}

function bounded(value: string | null, max: number): number | null {
  const n = Number(value);
  return value !== null && Number.isInteger(n) && n >= 1 && n <= max ? n : null;
}

type Control = { type: 'resize'; size: TerminalSize } | { type: 'close' };

/** A page's control message, or null for anything else (ignored, as a terminal ignores noise). */
function control(data: Buffer): Control | null {
  let message: unknown;
  try {
    message = JSON.parse(data.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof message !== 'object' || message === null) return null;
  const { type, cols, rows } = message as Record<string, unknown>;
  if (type === 'close') return { type };
  if (type !== 'resize') return null;
  const c = bounded(String(cols), MAX_COLS);
  const r = bounded(String(rows), MAX_ROWS);
  return c === null || r === null ? null : { type, size: { cols: c, rows: r } };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

import headless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';
import type { Logger } from '../log/logger.js';
import type { ExecProcess } from '../runtime/types.js';

type Exit = Awaited<ExecProcess['exited']>;
import { hangUpProcess } from './hangUp.js';

/** One browser tab's socket, as the hub sees it. */
export interface TerminalClient {
  /** Screen bytes: the restored screen first, then the shell's output as it comes. */
  output(data: Uint8Array): void;
  /** A control message for the page (JSON). */
  control(message: TerminalControl): void;
  /** Ends the socket (the terminal has ended). */
  end(): void;
}

export type TerminalControl =
  | { type: 'attached'; cols: number; rows: number }
  | { type: 'notice'; text: string }
  | { type: 'exit'; code: number | null; signal: string | null };

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** Lines of scrollback the headless screen keeps and a reconnect restores. */
const SCROLLBACK = 1000;

/**
 * One shell in a berth with the tabs attached to it. Its output goes through
 * a headless xterm on the gateway, so a tab that (re)attaches gets the screen
 * as it is (alternate screen, cursor and modes included) instead of a byte
 * ring that could cut an escape sequence in half. Output reaches the tabs
 * from the headless terminal's write callback, in the order it was parsed:
 * a snapshot taken in such a callback holds exactly what was sent before it.
 */
export class SharedTerminal {
  private readonly clients = new Set<TerminalClient>();
  private readonly screen: InstanceType<typeof headless.Terminal>;
  private readonly serializer = new serializeAddon.SerializeAddon();
  private exited = false;
  private keepTimer: NodeJS.Timeout | null = null;
  private size: TerminalSize;

  constructor(
    readonly owner: string,
    private readonly proc: ExecProcess,
    size: TerminalSize,
    private readonly keepMs: number,
    private readonly logger: Logger,
    onEnded: (exit: Exit) => void,
  ) {
    this.size = size;
    this.screen = new headless.Terminal({ cols: size.cols, rows: size.rows, scrollback: SCROLLBACK, allowProposedApi: true });
    // The add-on is typed against the browser build's Terminal; the headless one has the same core.
    this.screen.loadAddon(this.serializer as unknown as Parameters<typeof this.screen.loadAddon>[0]);
    proc.stdout.on('data', (chunk: Buffer) => this.screen.write(chunk, () => this.broadcast(chunk)));
    proc.stderr.resume();
    void proc.exited.then((exit) => {
      this.exited = true;
      // The last output is parsed (and sent) before the tabs hear of the exit.
      this.screen.write('', () => {
        for (const client of this.clients) {
          client.control({ type: 'exit', ...exit });
          client.end();
        }
        this.clients.clear();
        this.clearKeep();
        this.screen.dispose();
        onEnded(exit);
      });
    });
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Adds a tab: it gets the current screen, then everything after it. */
  attach(client: TerminalClient): void {
    this.clearKeep();
    this.screen.write('', () => {
      if (this.exited) {
        client.end();
        return;
      }
      client.control({ type: 'attached', ...this.size });
      client.output(Buffer.from(this.serializer.serialize({ scrollback: SCROLLBACK })));
      this.clients.add(client);
    });
  }

  /** A tab went away; with none left, the shell is kept for terminal.keepSeconds, then hung up. */
  detach(client: TerminalClient): void {
    this.clients.delete(client);
    if (this.clients.size > 0 || this.exited || this.keepTimer !== null) return;
    this.keepTimer = setTimeout(() => {
      this.logger.info({ owner: this.owner }, 'web terminal not reconnected within terminal.keepSeconds; ending its shell');
      void this.close();
    }, this.keepMs);
    this.keepTimer.unref();
  }

  input(data: Buffer): void {
    if (!this.exited) this.proc.stdin.write(data);
  }

  /** The newest size wins, as with tmux's window-size latest: the tab being typed in sets it. */
  resize(size: TerminalSize): void {
    if (this.exited || (size.cols === this.size.cols && size.rows === this.size.rows)) return;
    this.size = size;
    this.screen.resize(size.cols, size.rows);
    this.proc.resize(size.rows, size.cols);
  }

  notice(text: string): void {
    for (const client of this.clients) client.control({ type: 'notice', text });
  }

  /** Ends the shell as a closed terminal does: SIGHUP, then SIGKILL for what is left. */
  async close(): Promise<void> {
    this.clearKeep();
    await hangUpProcess(this.proc, () => this.exited);
  }

  private broadcast(chunk: Buffer): void {
    for (const client of this.clients) client.output(chunk);
  }

  private clearKeep(): void {
    if (this.keepTimer !== null) clearTimeout(this.keepTimer);
    this.keepTimer = null;
  }
}

/**
 * The web terminals this gateway holds: one per berth, shared by every tab
 * that opens it (the owner's, and an admin's with terminal.adminAccess).
 * Opening is single-flight, so two tabs opened at once share one shell.
 */
export class TerminalHub {
  private readonly terminals = new Map<string, Promise<SharedTerminal>>();

  constructor(
    private readonly keepSeconds: number,
    private readonly logger: Logger,
  ) {}

  /** The owner's terminal, started with `start` (which resolves with the shell, and what to do once it has ended) when there is none. */
  open(owner: string, size: TerminalSize, start: () => Promise<{ proc: ExecProcess; ended: (exit: Exit) => void }>): Promise<SharedTerminal> {
    const existing = this.terminals.get(owner);
    if (existing) return existing;
    const opening = start().then(({ proc, ended }) => {
      const terminal = new SharedTerminal(owner, proc, size, this.keepSeconds * 1000, this.logger, (exit) => {
        ended(exit);
        if (this.terminals.get(owner) === opening) this.terminals.delete(owner);
        this.logger.info({ owner }, 'web terminal ended');
      });
      return terminal;
    });
    this.terminals.set(owner, opening);
    opening.catch(() => {
      if (this.terminals.get(owner) === opening) this.terminals.delete(owner);
    });
    return opening;
  }

  /** Hangs up every shell (gateway shutdown). */
  async close(): Promise<void> {
    const terminals = await Promise.allSettled([...this.terminals.values()]);
    await Promise.all(terminals.map((t) => (t.status === 'fulfilled' ? t.value.close() : undefined)));
  }
}

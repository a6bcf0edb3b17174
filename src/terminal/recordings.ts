import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { open, readdir, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { AuditRecorder } from '../audit/kinds.js';
import type { Config } from '../config/schema.js';
import { BerthError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { AsciicastWriter, type RecordingHeader } from './asciicast.js';

/** A recording as GET /_berth/api/recordings lists it. */
export interface RecordingEntry {
  id: string;
  user: string;
  berth: string;
  gateway: string;
  kind: 'ssh' | 'terminal';
  /** ISO 8601. */
  startedAt: string;
  /** From the first event to the last one written. */
  durationSeconds: number;
  bytes: number;
}

/** What a pty session gets: the writer, or null, and the line to tell the person about it. */
export interface RecordingStart {
  writer: AsciicastWriter | null;
  notice: string | null;
}

const SUFFIX = '.cast';
/** Ids are made here: time, then randomness; anything else is not a recording's (and never reaches a path). */
const ID = /^[0-9]{13}-[0-9a-f]{16}$/;
/** A header is one line; longer than this is not one of ours. */
const HEADER_MAX_BYTES = 16 * 1024;
const PRUNE_EVERY_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export const RECORDED_NOTICE = 'berth: this session is recorded.';
/** Shown by the SSH server before signing in, and by the web terminal, while recording is on. */
export const RECORDING_BANNER = 'Terminal sessions on this gateway are recorded.';

/**
 * Session recordings under <dataDir>/recordings, one asciicast v2 file per
 * pty session (SSH shell or `ssh -t`, web terminal), readable only by the
 * gateway. The files are the index: each one's header names its user, so the
 * API lists them by reading headers. They are kept as long as the audit log
 * (audit.retainDays): older files are deleted hourly.
 */
export class Recordings {
  readonly dir: string;
  private readonly gateway = hostname();
  private readonly pruner: NodeJS.Timeout | null;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly audit: AuditRecorder,
  ) {
    this.dir = join(config.dataDir, 'recordings');
    this.pruner = config.recording.enabled ? setInterval(() => void this.prune(), PRUNE_EVERY_MS).unref() : null;
  }

  get enabled(): boolean {
    return this.config.recording.enabled;
  }

  get recordsInput(): boolean {
    return this.config.recording.input;
  }

  /**
   * Opens the recording of a new pty session. With failMode strict, a file
   * that cannot be made refuses the session (a BerthError); best-effort lets
   * it run unrecorded and says so. Reaching the cap is logged and audited.
   */
  async start(header: Omit<RecordingHeader, 'gateway' | 'startedAt'>): Promise<RecordingStart> {
    if (!this.enabled) return { writer: null, notice: null };
    const startedAt = Date.now();
    const id = `${startedAt}-${randomBytes(8).toString('hex')}`;
    try {
      const file = await openFile(this.dir, join(this.dir, id + SUFFIX));
      file.on('error', (err) => this.logger.warn({ recording: id, error: err.message }, 'recording could not be written; the session goes on unrecorded'));
      const onCap = () => {
        this.logger.info({ code: 'recording_capped', recording: id, user: header.user, maxBytes: this.config.recording.maxBytes }, 'recording reached recording.maxBytes; the session goes on unrecorded');
        this.audit.record({
          kind: 'recording.capped',
          actor: header.user,
          via: 'gateway',
          source: null,
          target: header.user,
          outcome: 'ok',
          detail: { recording: id, type: header.kind, maxBytes: this.config.recording.maxBytes },
        });
      };
      const writer = new AsciicastWriter(file, { ...header, gateway: this.gateway, startedAt }, this.config.recording.maxBytes, onCap);
      this.logger.info({ recording: id, user: header.user, kind: header.kind }, 'recording started');
      return { writer, notice: RECORDED_NOTICE };
    } catch (err) {
      const reason = (err as Error).message;
      if (this.config.recording.failMode === 'strict') {
        throw new BerthError({
          code: 'recording_unavailable',
          userMessage: 'This gateway must record terminal sessions and cannot write recordings right now; try again later or ask an operator to check its data directory.',
          logMessage: `recording could not be opened in ${this.dir} (recording.failMode strict refuses the session): ${reason}`,
          cause: err,
        });
      }
      this.logger.warn({ error: reason, dir: this.dir }, 'recording could not be opened; the session runs unrecorded (recording.failMode best-effort)');
      return { writer: null, notice: 'berth: this session should be recorded but cannot be; it runs unrecorded.' };
    }
  }

  /** Newest first; only `user`'s when given. */
  async list(user: string | null): Promise<RecordingEntry[]> {
    const entries = await Promise.all((await this.ids()).map((id) => this.entry(id)));
    return entries.filter((e): e is RecordingEntry => e !== null && (user === null || e.user === user)).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  /** The recording's entry and file path, or null when there is none by that id. */
  async find(id: string): Promise<{ entry: RecordingEntry; path: string } | null> {
    if (!ID.test(id)) return null;
    const entry = await this.entry(id);
    return entry === null ? null : { entry, path: join(this.dir, id + SUFFIX) };
  }

  async prune(now = Date.now()): Promise<number> {
    const { retainDays } = this.config.audit;
    let removed = 0;
    for (const id of await this.ids()) {
      const path = join(this.dir, id + SUFFIX);
      const info = await stat(path).catch(() => null);
      if (info === null || now - info.mtimeMs < retainDays * DAY_MS) continue;
      await unlink(path).then(
        () => removed++,
        (err: Error) => this.logger.warn({ error: err.message, path }, 'old recording could not be deleted'),
      );
    }
    if (removed > 0) this.logger.info({ removed, retainDays }, 'old recordings deleted');
    return removed;
  }

  close(): void {
    if (this.pruner) clearInterval(this.pruner);
  }

  private async ids(): Promise<string[]> {
    const names = await readdir(this.dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
    return names.filter((n) => n.endsWith(SUFFIX)).map((n) => n.slice(0, -SUFFIX.length)).filter((id) => ID.test(id));
  }

  private async entry(id: string): Promise<RecordingEntry | null> {
    const path = join(this.dir, id + SUFFIX);
    const handle = await open(path, 'r').catch(() => null);
    if (handle === null) return null;
    try {
      const info = await handle.stat();
      const buffer = Buffer.alloc(Math.min(HEADER_MAX_BYTES, info.size));
      await handle.read(buffer, 0, buffer.length, 0);
      const newline = buffer.indexOf(0x0a);
      const header = parseHeader(buffer.subarray(0, newline === -1 ? buffer.length : newline).toString('utf8'));
      if (header === null) return null;
      return {
        id,
        user: header.user,
        berth: header.berth,
        gateway: header.gateway,
        kind: header.kind,
        startedAt: header.startedAt,
        durationSeconds: Math.max(0, Math.round((info.mtimeMs - Date.parse(header.startedAt)) / 100) / 10),
        bytes: info.size,
      };
    } finally {
      await handle.close();
    }
  }
}

function parseHeader(line: string): { user: string; berth: string; gateway: string; kind: 'ssh' | 'terminal'; startedAt: string } | null {
  try {
    const berth = (JSON.parse(line) as { berth?: Record<string, unknown> }).berth;
    if (!berth || typeof berth.user !== 'string' || typeof berth.startedAt !== 'string') return null;
    return {
      user: berth.user,
      berth: String(berth.berth ?? ''),
      gateway: String(berth.gateway ?? ''),
      kind: berth.kind === 'terminal' ? 'terminal' : 'ssh',
      startedAt: berth.startedAt,
    };
  } catch {
    return null;
  }
}

/** Resolves once the file exists (so strict mode can refuse), readable by the gateway's user only. */
function openFile(dir: string, path: string): Promise<WriteStream> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return new Promise((resolve, reject) => {
    const file = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    file.once('open', () => {
      file.off('error', reject);
      resolve(file);
    });
    file.once('error', reject);
  });
}

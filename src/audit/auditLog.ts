import { storageFailure } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { throttledLog, type ThrottledLog } from '../log/throttled.js';
import { insertAuditRows, pruneAuditRows, queryAuditRows, type AuditQuery, type AuditRow } from '../store/audit.js';
import type { Store } from '../store/store.js';
import type { LineSink } from './jsonLines.js';
import { RefusalBudget } from './refusalBudget.js';
import type { AuditDetail, AuditEvent, AuditKind, AuditOutcome, AuditRecorder, StoredAuditEvent } from './kinds.js';

/** Events waiting for the store at most; beyond it (a store down for long) the oldest are dropped, and that is logged. */
const MAX_PENDING = 10_000;
/** How long record() lets events gather before one batched insert. */
const FLUSH_DELAY_MS = 50;
/** After a failed insert, the wait before the batch is tried again. */
const RETRY_DELAY_MS = 5_000;
const PRUNE_EVERY_MS = 3600 * 1000;
const DAY_MS = 24 * 3600 * 1000;
/** Detail text is cut to this many characters (an exec command can be long). */
const MAX_TEXT = 1000;
const MAX_DETAIL_KEYS = 16;
/** Refused, failed or anonymous events kept per source address and minute (see RefusalBudget). */
const REFUSALS_PER_SOURCE = 60;
const REFUSAL_WINDOW_MS = 60_000;

export interface AuditLogOptions {
  store: Store;
  logger: Logger;
  /** audit.retainDays: older events are deleted every hour. */
  retainDays: number;
  /** Copies of every event as a JSON line (audit.file, audit.stdout). */
  lines?: readonly LineSink[];
  now?: () => number;
}

/**
 * The audit log: record() queues an event and returns; a timer writes the
 * queue to the store in one transaction (so several gateways share one log)
 * and every event also goes out at once as a JSON line to the configured
 * sinks. A store that fails keeps the events queued (bounded) and retries.
 */
export class AuditLog implements AuditRecorder {
  private pending: AuditRow[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private dropped = 0;
  private readonly problems: ThrottledLog;
  private readonly now: () => number;
  private readonly refusals: RefusalBudget;

  constructor(private readonly options: AuditLogOptions) {
    this.now = options.now ?? Date.now;
    this.problems = throttledLog(options.logger, { burst: 1 });
    this.refusals = new RefusalBudget(REFUSALS_PER_SOURCE, REFUSAL_WINDOW_MS, this.now);
  }

  record(event: AuditEvent): void {
    try {
      // What a stranger can cause at will: a refusal, or anything before anyone was named (an SSH connection).
      const unbidden = event.outcome !== 'ok' || event.actor === null;
      if (unbidden && event.source !== null && !this.refusals.take(event.source)) {
        this.problems.write('warn', `refusals:${event.source}`, { source: event.source, kind: event.kind }, `more than ${REFUSALS_PER_SOURCE} refusals or anonymous events a minute from one address: the rest of this minute's are left out of the audit log`);
        return;
      }
      const row = rowOf(event, this.now());
      for (const sink of this.options.lines ?? []) sink.write(jsonLine(row));
      if (this.pending.length >= MAX_PENDING) {
        this.pending.shift();
        this.dropped++;
      }
      this.pending.push(row);
      this.schedule(FLUSH_DELAY_MS);
    } catch (err) {
      // Auditing must never take down what it records.
      this.problems.write('error', 'record', { err, kind: event?.kind }, 'could not record an audit event');
    }
  }

  /** Writes everything queued so far; resolves when it is in the store (or the attempt failed and was logged). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.length === 0) return;
    this.clearTimer();
    const batch = this.pending;
    this.pending = [];
    this.flushing = insertAuditRows(this.options.store, batch)
      .then(() => this.reportDropped())
      .catch((err) => {
        // Kept for the next attempt, oldest first, within the bound.
        this.pending = [...batch, ...this.pending].slice(-MAX_PENDING);
        this.problems.write('warn', 'insert', { ...failureOf(err), events: batch.length }, `could not write ${batch.length} audit events to the store; retrying in ${RETRY_DELAY_MS / 1000} s`);
        this.schedule(RETRY_DELAY_MS);
      })
      .finally(() => (this.flushing = null));
    await this.flushing;
  }

  /** Newest first; events recorded on this gateway up to now are written first, so a reader sees their own last action. */
  async query(query: AuditQuery): Promise<StoredAuditEvent[]> {
    await this.flush();
    const rows = await queryAuditRows(this.options.store, query);
    return rows.map((row) => ({ ...row, kind: row.kind as AuditKind, outcome: row.outcome as AuditOutcome, detail: row.detail as AuditDetail }));
  }

  /** Deletes events older than audit.retainDays; returns how many. */
  async prune(): Promise<number> {
    return pruneAuditRows(this.options.store, this.now() - this.options.retainDays * DAY_MS);
  }

  /** Prunes now and then every hour. */
  start(): void {
    const prune = () =>
      void this.prune()
        .then((removed) => removed > 0 && this.options.logger.info({ removed, retainDays: this.options.retainDays }, 'pruned old audit events'))
        .catch((err) => this.problems.write('warn', 'prune', failureOf(err), 'could not prune old audit events; trying again in an hour'));
    prune();
    this.pruneTimer = setInterval(prune, PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  /** Opens audit.file again (log rotation). */
  reopen(): void {
    for (const sink of this.options.lines ?? []) sink.reopen();
  }

  /** Writes what is queued and closes the file; the store is closed by its owner afterwards. */
  async close(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await this.flush();
    this.clearTimer();
    await Promise.all((this.options.lines ?? []).map((sink) => sink.close()));
  }

  private schedule(delay: number): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, delay);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private reportDropped(): void {
    if (this.dropped === 0) return;
    this.options.logger.error({ dropped: this.dropped }, `dropped ${this.dropped} audit events while the store was unavailable`);
    this.dropped = 0;
  }
}

function rowOf(event: AuditEvent, at: number): AuditRow {
  return {
    at,
    kind: event.kind,
    actor: event.actor,
    via: event.via,
    source: event.source,
    target: event.target,
    outcome: event.outcome,
    detail: boundedDetail(event.detail),
  };
}

/** Only flat values, text cut short: a detail can never grow a row without bound. */
function boundedDetail(detail: AuditDetail | undefined): Record<string, string | number | boolean | null> {
  const bounded: Record<string, string | number | boolean | null> = {};
  if (detail === undefined) return bounded;
  for (const [key, value] of Object.entries(detail).slice(0, MAX_DETAIL_KEYS)) {
    if (typeof value === 'string') bounded[key] = value.length > MAX_TEXT ? `${value.slice(0, MAX_TEXT)}…` : value;
    else if (typeof value === 'number' || typeof value === 'boolean' || value === null) bounded[key] = value;
  }
  return bounded;
}

/** One event as a SIEM reads it: "type":"audit" tells it apart from the gateway's log lines on a shared stdout. */
function jsonLine(row: AuditRow): string {
  const { at, ...rest } = row;
  return `${JSON.stringify({ time: new Date(at).toISOString(), type: 'audit', ...rest })}\n`;
}

/**
 * A store that cannot be written (full disk, read-only) is a state the
 * operator fixes, not a bug: one line with its reason, no stack. Anything
 * else keeps its stack.
 */
function failureOf(err: unknown): { detail: string } | { err: unknown } {
  const storage = storageFailure(err);
  return storage === null ? { err } : { detail: storage.logMessage };
}

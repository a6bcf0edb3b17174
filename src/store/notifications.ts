import { sql } from 'kysely';
import type pg from 'pg';
import type { Logger } from '../log/logger.js';
import type { Store } from './store.js';

/** A berth's state changed on some gateway: what the others need to keep their view of it true. */
export interface BerthNotice {
  user: string;
  /**
   * 'stopping' comes before the runtime stops it, so the others take its end for no crash; 'paused' before
   * the engine freezes it (idle.pauseAfterSeconds), so no gateway proxies into a frozen berth; 'ready' also
   * after a resume, or a pause that failed.
   */
  state: 'ready' | 'paused' | 'stopping' | 'stopped' | 'failed';
  /** Why it stopped or failed, for the sessions and pages this closes. */
  reason?: string;
}

export interface NoticeListener {
  notice(notice: BerthNotice): void;
  /** Notices may have been missed (the connection was lost and is back): re-read what they would have said. */
  resync(): void;
}

/**
 * Berth state changes passed between gateways sharing a store. Notices a
 * gateway publishes never come back to it.
 */
export interface Notifications {
  /** Resolves once sent (or failed to be, which is logged): never rejects. */
  publish(notice: BerthNotice): Promise<void>;
  listen(listener: NoticeListener): void;
  /** Null while notices flow; else why not, in words for /_berth/healthz. */
  problem(): string | null;
  close(): Promise<void>;
}

/** SQLite: one gateway, nobody to tell. */
export const NO_NOTIFICATIONS: Notifications = {
  publish: () => Promise.resolve(),
  listen: () => undefined,
  problem: () => null,
  close: () => Promise.resolve(),
};

const CHANNEL = 'berth_state';
/** The listening connection's application_name is "berth notifications". */
export const NOTIFY_PURPOSE = 'notifications';
/** How often the listening connection proves it is alive, and how long it may take to. */
const HEARTBEAT_MS = 5_000;
const HEARTBEAT_TIMEOUT_MS = 3_000;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5_000;
/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more. */
const REASON_MAX = 1_000;

interface Wire extends BerthNotice {
  from: string;
}

/**
 * LISTEN/NOTIFY on a dedicated PostgreSQL connection. A heartbeat finds a
 * connection that died silently; a lost one is made again with back-off,
 * and listeners then re-read what they may have missed meanwhile.
 */
export class PgNotifications implements Notifications {
  private client: pg.Client | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private backoff = RECONNECT_MIN_MS;
  private listeners: NoticeListener[] = [];
  private down: string | null = 'not yet listening';
  private everListened = false;
  private closed = false;

  constructor(
    private readonly store: Store,
    /** This gateway, so its own notices are not acted on twice. */
    private readonly gateway: string,
    private readonly logger: Logger,
  ) {}

  /** Connects in the background; until then (and while the store is away) problem() says so. */
  start(): this {
    void this.connect();
    return this;
  }

  listen(listener: NoticeListener): void {
    this.listeners.push(listener);
  }

  problem(): string | null {
    return this.down;
  }

  async publish(notice: BerthNotice): Promise<void> {
    const wire: Wire = { ...notice, ...(notice.reason === undefined ? {} : { reason: notice.reason.slice(0, REASON_MAX) }), from: this.gateway };
    await sql`select pg_notify(${CHANNEL}, ${JSON.stringify(wire)})`
      .execute(this.store.db)
      .then(() => undefined)
      .catch((err: unknown) => this.logger.warn({ err, user: notice.user, state: notice.state }, 'could not tell the other gateways of a berth state change; they re-read it when the store is back'));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.drop(null);
  }

  private async connect(): Promise<void> {
    this.retry = null;
    if (this.closed) return;
    const client = this.store.dedicatedClient(NOTIFY_PURPOSE);
    this.client = client;
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('the connection ended')));
    client.on('notification', (message) => {
      if (message.channel === CHANNEL && message.payload !== undefined) this.deliver(message.payload);
    });
    try {
      await client.connect();
      await client.query(`listen ${CHANNEL}`);
    } catch (err) {
      this.lost(client, err);
      return;
    }
    if (this.client !== client) return;
    const again = this.everListened;
    this.everListened = true;
    this.down = null;
    this.backoff = RECONNECT_MIN_MS;
    this.heartbeat = setInterval(() => void this.beat(client), HEARTBEAT_MS);
    this.heartbeat.unref();
    if (again) {
      this.logger.info('listening for other gateways again; re-reading what was missed');
      for (const listener of this.listeners) listener.resync();
    }
  }

  private async beat(client: pg.Client): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no heartbeat answer within ${HEARTBEAT_TIMEOUT_MS} ms`)), HEARTBEAT_TIMEOUT_MS);
    });
    try {
      await Promise.race([client.query('select 1'), late]);
    } catch (err) {
      this.lost(client, err);
    } finally {
      clearTimeout(timer);
    }
  }

  private deliver(payload: string): void {
    let wire: Wire;
    try {
      wire = JSON.parse(payload) as Wire;
    } catch {
      this.logger.warn('ignored a malformed berth state notice');
      return;
    }
    if (wire.from === this.gateway || typeof wire.user !== 'string') return;
    const notice: BerthNotice = { user: wire.user, state: wire.state, ...(wire.reason === undefined ? {} : { reason: wire.reason }) };
    for (const listener of this.listeners) listener.notice(notice);
  }

  private lost(client: pg.Client, err: unknown): void {
    if (this.client !== client || this.closed) return;
    const reason = err instanceof Error ? err.message : String(err);
    this.down = `not receiving other gateways' berth changes: ${reason}`;
    this.logger.warn({ reason, retryMs: this.backoff }, 'lost the store connection that listens for other gateways; reconnecting');
    this.drop(client);
    this.retry = setTimeout(() => void this.connect(), this.backoff);
    this.retry.unref();
    this.backoff = Math.min(this.backoff * 2, RECONNECT_MAX_MS);
  }

  private drop(client: pg.Client | null): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
    const current = client ?? this.client;
    this.client = null;
    current?.end().catch(() => undefined);
  }
}

export function notificationsFor(store: Store, gateway: string, logger: Logger): Notifications {
  return store.dialect === 'postgres' ? new PgNotifications(store, gateway, logger).start() : NO_NOTIFICATIONS;
}

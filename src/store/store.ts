import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, sql, type Selectable } from 'kysely';
import pg from 'pg';
import type { Config } from '../config/schema.js';
import { BerthError, storageFailure } from '../core/errors.js';
import { safeName } from '../core/safeName.js';
import { migrations, type Database, type Dialect } from './schema.js';
import { StoreSqliteDialect } from './sqliteDialect.js';

export type StoreOptions = Config['store'];

const DB_FILE = 'berth.db';

/** SQLite files being migrated by this process, each the end of its queue of opens. */
const sqliteMigrations = new Map<string, Promise<void>>();

const SQLITE: StoreOptions = { kind: 'sqlite', url: null, urlFile: null };

/** Any number the gateways agree on: the advisory lock that lets one of them migrate at a time. */
const MIGRATION_LOCK = 0x62657274; // "bert"

/** PostgreSQL's int8 (bigint, count(*)) as a JS number: times in milliseconds stay far below 2^53. */
const INT8_OID = 20;

export interface BerthEvent {
  user: string;
  at: number;
  kind: string;
  message: string;
}

/** A public key a user registered for SSH (through /_berth/api/me/keys). */
export interface SshKey {
  id: number;
  user: string;
  /** "type base64 comment", as in authorized_keys. */
  publicKey: string;
  fingerprint: string;
  comment: string;
  createdAt: number;
}

export type TokenScope = 'api' | 'apps';
export type ShareLevel = 'owner' | 'users' | 'public';

/** An API token as stored: everything but the secret, of which only a hash is kept. */
export interface StoredToken {
  id: string;
  user: string;
  name: string | null;
  scopes: TokenScope[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

/** A user's last started profile (see src/profiles/), kept so SSH starts the same. */
export interface ProfileChoice {
  profile: string;
  options: Record<string, string>;
  groups: string[];
}

/** How many events per user are kept; older ones are pruned as new ones arrive. */
const EVENTS_KEPT = 200;

/** Rows or users per statement: SQLite bounds the parameters of one. */
const EVENTS_PER_INSERT = 500;

/**
 * The gateway's persistent state behind one class and one Kysely query
 * builder: SQLite in <dataDir>/berth.db for one gateway, PostgreSQL for
 * several. The SQL is written once for both (quoted "user", upserts through
 * ON CONFLICT, bigint times read back as numbers).
 */
export class Store {
  private constructor(
    readonly db: Kysely<Database>,
    readonly dialect: Dialect,
    /** A new client on the PostgreSQL store, outside the pool; null on SQLite. */
    private readonly newClient: ((purpose: string) => pg.Client) | null = null,
  ) {}

  /**
   * A connection of its own, not from the pool, for what holds one open
   * (LISTEN, a session advisory lock): the caller connects and ends it.
   * Only on PostgreSQL; SQLite is one gateway's, which needs none.
   * `purpose` names it in pg_stat_activity ("berth <purpose>").
   */
  dedicatedClient(purpose: string): pg.Client {
    if (this.newClient === null) throw new Error('a dedicated store connection exists only on PostgreSQL');
    return this.newClient(purpose);
  }

  /** SQLite's own journal makes every write atomic; a first start on a full disk leaves a database the next start completes. */
  static async open(dataDir: string, options: StoreOptions = SQLITE): Promise<Store> {
    const path = join(dataDir, DB_FILE);
    let store: Store | undefined;
    try {
      store = options.kind === 'postgres' ? Store.postgres(options) : Store.sqlite(dataDir);
      await store.migrate(options.kind === 'sqlite' ? resolve(path) : null);
      return store;
    } catch (err) {
      await store?.close().catch(() => undefined);
      throw options.kind === 'sqlite' ? (storageFailure(err, path) ?? err) : unreachable(err);
    }
  }

  private static sqlite(dataDir: string): Store {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const sqlite = new SqliteDatabase(join(dataDir, DB_FILE));
    try {
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('busy_timeout = 5000');
    } catch (err) {
      sqlite.close();
      throw err;
    }
    return new Store(new Kysely<Database>({ dialect: new StoreSqliteDialect(sqlite) }), 'sqlite');
  }

  /** With neither store.url nor store.urlFile, pg reads libpq's PG* variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE). */
  private static postgres(options: StoreOptions): Store {
    const connectionString = options.urlFile !== null ? readUrlFile(options.urlFile) : (options.url ?? undefined);
    const settings: pg.ClientConfig = {
      connectionString,
      // A store that does not answer is an error within seconds (readyz, start-up), not a hang.
      connectionTimeoutMillis: 5_000,
      types: { getTypeParser: (oid, format) => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) },
    };
    const pool = new pg.Pool(settings);
    // An idle client losing its server is reported here; the next query gets a fresh connection.
    pool.on('error', () => undefined);
    const listened = new WeakSet<pg.PoolClient>();
    // The store being away is one error with the reason and what still works, not an internal one per caller.
    const reporting = {
      connect: () =>
        pool.connect().then(
          (client) => {
            // pg-pool listens for errors only on idle clients: a server lost while Kysely holds one
            // between statements (a transaction) would otherwise be an uncaught error that ends the
            // gateway. Its next query fails, and the pool drops it when released.
            if (!listened.has(client)) {
              listened.add(client);
              client.on('error', () => undefined);
            }
            return client;
          },
          (err: unknown) => Promise.reject(storeAway(err)),
        ),
      end: () => pool.end(),
    };
    return new Store(new Kysely<Database>({ dialect: new PostgresDialect({ pool: reporting }) }), 'postgres', (purpose) => new pg.Client({ ...settings, application_name: `berth ${purpose}` }));
  }

  /**
   * Applies the migrations not yet applied, all in one transaction that
   * gateways starting at once take in turn: the first migrates, the others
   * then find nothing to do. PostgreSQL: an advisory lock held to the end of
   * the transaction. SQLite: BEGIN IMMEDIATE takes the write lock up front
   * (a plain BEGIN that reads and then writes fails at once with "database is
   * locked" instead of waiting), and opens in this process wait for each other,
   * since better-sqlite3 would wait for the lock with the event loop blocked.
   */
  private async migrate(file: string | null): Promise<void> {
    const run = () =>
      this.db.connection().execute(async (conn) => {
        await sql.raw(this.dialect === 'sqlite' ? 'begin immediate' : 'begin').execute(conn);
        try {
          if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(conn);
          await sql`create table if not exists schema_version (version integer not null)`.execute(conn);
          const row = await sql<{ version: number | null }>`select max(version) as version from schema_version`.execute(conn);
          const current = row.rows[0]?.version ?? 0;
          for (let i = current; i < migrations.length; i++) {
            await (migrations[i] as (typeof migrations)[number])(conn, this.dialect);
            await sql`insert into schema_version (version) values (${i + 1})`.execute(conn);
          }
          await sql`commit`.execute(conn);
        } catch (err) {
          await sql`rollback`.execute(conn).catch(() => undefined);
          throw err;
        }
      });
    if (file === null) return run();
    const turn = (sqliteMigrations.get(file) ?? Promise.resolve()).then(run);
    const settled = turn.catch(() => undefined);
    sqliteMigrations.set(file, settled);
    try {
      return await turn;
    } finally {
      if (sqliteMigrations.get(file) === settled) sqliteMigrations.delete(file);
    }
  }

  /** Whether the store answers a query: what /_berth/readyz asks. */
  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  /**
   * The secret stored under `name`, made by `make` and stored first if no
   * gateway has yet: of gateways starting at once, the first insert wins and
   * every one reads back that one.
   */
  async sharedSecret(name: string, make: () => string): Promise<string> {
    const existing = await this.db.selectFrom('shared_secrets').select('value').where('name', '=', name).executeTakeFirst();
    if (existing !== undefined) return existing.value;
    await this.db
      .insertInto('shared_secrets')
      .values({ name, value: make(), created_at: Date.now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const row = await this.db.selectFrom('shared_secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow();
    return row.value;
  }

  /** Keeps a one-time code (by its hash) and drops those that have expired. */
  async addHandOffCode(code: { hash: string; user: string; host: string; expiresAt: number }, now: number): Promise<void> {
    await this.db.deleteFrom('hand_off_codes').where('expires_at', '<=', now).execute();
    await this.db.insertInto('hand_off_codes').values({ hash: code.hash, user: code.user, host: code.host, expires_at: code.expiresAt }).execute();
  }

  /** Removes the code and returns what it was for: a single statement, so of two gateways redeeming at once one gets it. */
  async takeHandOffCode(hash: string): Promise<{ user: string; host: string; expiresAt: number } | null> {
    const row = await this.db.deleteFrom('hand_off_codes').where('hash', '=', hash).returning(['user', 'host', 'expires_at']).executeTakeFirst();
    return row === undefined ? null : { user: row.user, host: row.host, expiresAt: row.expires_at };
  }

  async saveActivity(entries: ReadonlyMap<string, number>): Promise<void> {
    if (entries.size === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const [user, at] of entries) {
        await trx
          .insertInto('activity')
          .values({ user, last_activity: at })
          // Gateways flush at their own pace: an older clock never replaces a newer one.
          .onConflict((oc) => oc.column('user').doUpdateSet({ last_activity: sql<number>`${sql.raw(this.dialect === 'postgres' ? 'greatest' : 'max')}(activity.last_activity, excluded.last_activity)` }))
          .execute();
        await trx.insertInto('users').values({ safe_name: safeName(user), user }).onConflict((oc) => oc.doNothing()).execute();
      }
    });
  }

  /** Records that the gateway knows this user (an app host may then name them). */
  async rememberUser(user: string): Promise<void> {
    await this.db.insertInto('users').values({ safe_name: safeName(user), user }).onConflict((oc) => oc.doNothing()).execute();
  }

  async userBySafeName(name: string): Promise<string | null> {
    const row = await this.db.selectFrom('users').select('user').where('safe_name', '=', name).executeTakeFirst();
    return row?.user ?? null;
  }

  async addToken(token: StoredToken, hash: string): Promise<void> {
    await this.db
      .insertInto('tokens')
      .values({
        id: token.id,
        user: token.user,
        name: token.name,
        hash,
        scopes: token.scopes.join(','),
        created_at: token.createdAt,
        expires_at: token.expiresAt,
        last_used_at: token.lastUsedAt,
      })
      .execute();
  }

  async tokenByHash(hash: string): Promise<StoredToken | null> {
    const row = await this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row ? tokenOf(row) : null;
  }

  async tokenById(id: string): Promise<StoredToken | null> {
    const row = await this.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? tokenOf(row) : null;
  }

  async listTokens(user: string): Promise<StoredToken[]> {
    const rows = await this.db.selectFrom('tokens').selectAll().where('user', '=', user).orderBy('created_at').execute();
    return rows.map(tokenOf);
  }

  /** Deletes one of the user's tokens; false when the user has no token with that id. */
  async deleteToken(user: string, id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('tokens').where('id', '=', id).where('user', '=', user).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async touchToken(id: string, at: number): Promise<void> {
    await this.db.updateTable('tokens').set({ last_used_at: at }).where('id', '=', id).execute();
  }

  /** Sets a port's share level; "owner", the default, is kept as no row. */
  async setShare(user: string, port: number, share: ShareLevel): Promise<void> {
    if (share === 'owner') {
      await this.db.deleteFrom('shares').where('user', '=', user).where('port', '=', port).execute();
      return;
    }
    await this.db
      .insertInto('shares')
      .values({ user, port, share })
      .onConflict((oc) => oc.columns(['user', 'port']).doUpdateSet({ share }))
      .execute();
  }

  /** The profile a user last started, with its options and the groups they had then; null before their first. */
  async profileChoice(user: string): Promise<ProfileChoice | null> {
    const row = await this.db.selectFrom('profile_choices').selectAll().where('user', '=', user).executeTakeFirst();
    if (!row) return null;
    return { profile: row.profile, options: JSON.parse(row.options) as Record<string, string>, groups: JSON.parse(row.groups) as string[] };
  }

  async saveProfileChoice(user: string, choice: ProfileChoice, at: number): Promise<void> {
    const values = { profile: choice.profile, options: JSON.stringify(choice.options), groups: JSON.stringify(choice.groups), updated_at: at };
    await this.db
      .insertInto('profile_choices')
      .values({ user, ...values })
      .onConflict((oc) => oc.column('user').doUpdateSet(values))
      .execute();
  }

  async share(user: string, port: number): Promise<ShareLevel> {
    const row = await this.db.selectFrom('shares').select('share').where('user', '=', user).where('port', '=', port).executeTakeFirst();
    return (row?.share as ShareLevel | undefined) ?? 'owner';
  }

  /** The user's ports with a share level other than "owner". */
  async listShares(user: string): Promise<Map<number, ShareLevel>> {
    const rows = await this.db.selectFrom('shares').select(['port', 'share']).where('user', '=', user).execute();
    return new Map(rows.map((r) => [r.port, r.share as ShareLevel]));
  }

  async loadActivity(): Promise<Map<string, number>> {
    const rows = await this.db.selectFrom('activity').selectAll().execute();
    return new Map(rows.map((r) => [r.user, r.last_activity]));
  }

  async addEvent(event: BerthEvent): Promise<void> {
    await this.addEvents([event]);
  }

  /**
   * Appends events in one transaction, keeping the newest EVENTS_KEPT per
   * user: one commit for a batch, where a commit per event would cost a culling
   * pass that stops a thousand berths a thousand WAL syncs.
   */
  async addEvents(events: readonly BerthEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < events.length; i += EVENTS_PER_INSERT) {
        await trx
          .insertInto('events')
          .values(events.slice(i, i + EVENTS_PER_INSERT).map((event) => ({ ...event, id: undefined })))
          .execute();
      }
      // One statement per slice of the batch's users, rather than one per user.
      const users = [...new Set(events.map((event) => event.user))];
      for (let i = 0; i < users.length; i += EVENTS_PER_INSERT) {
        await sql`delete from events where id in (
          select id from (
            select id, row_number() over (partition by "user" order by id desc) as newer
            from events where "user" in (${sql.join(users.slice(i, i + EVENTS_PER_INSERT))})
          ) as ranked where newer > ${EVENTS_KEPT}
        )`.execute(trx);
      }
    });
  }

  async recentEvents(user: string | null, limit: number): Promise<BerthEvent[]> {
    let query = this.db.selectFrom('events').select(['user', 'at', 'kind', 'message']).orderBy('id', 'desc').limit(limit);
    if (user !== null) query = query.where('user', '=', user);
    return query.execute();
  }

  /** Adds the key unless the user already has it; either way returns the stored row. */
  async addSshKey(key: Omit<SshKey, 'id'>): Promise<{ key: SshKey; created: boolean }> {
    const inserted = await this.db
      .insertInto('ssh_keys')
      .values({
        id: undefined,
        user: key.user,
        public_key: key.publicKey,
        fingerprint: key.fingerprint,
        comment: key.comment,
        created_at: key.createdAt,
      })
      .onConflict((oc) => oc.columns(['user', 'fingerprint']).doNothing())
      .executeTakeFirst();
    const row = await this.db
      .selectFrom('ssh_keys')
      .selectAll()
      .where('user', '=', key.user)
      .where('fingerprint', '=', key.fingerprint)
      .executeTakeFirstOrThrow();
    return { key: sshKeyOf(row), created: Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0 };
  }

  async listSshKeys(user: string): Promise<SshKey[]> {
    const rows = await this.db.selectFrom('ssh_keys').selectAll().where('user', '=', user).orderBy('id').execute();
    return rows.map(sshKeyOf);
  }

  /** Deletes one of the user's keys; false when the user has no key with that id. */
  async deleteSshKey(user: string, id: number): Promise<boolean> {
    const result = await this.db.deleteFrom('ssh_keys').where('id', '=', id).where('user', '=', user).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async usersWithSshKey(fingerprint: string): Promise<string[]> {
    const rows = await this.db.selectFrom('ssh_keys').select('user').where('fingerprint', '=', fingerprint).execute();
    return rows.map((r) => r.user);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

function readUrlFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new BerthError({
      code: 'config_invalid',
      userMessage: `store.urlFile ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): check the path and that the gateway's user may read it.`,
      cause: err,
    });
  }
  if (!/^postgres(ql)?:\/\//.test(text)) {
    throw new BerthError({ code: 'config_invalid', userMessage: `store.urlFile ${path} does not hold a postgres:// URL: put the store's URL in it, on one line.` });
  }
  return text;
}

/** No connection to PostgreSQL while serving: what needs the store is refused (503) with the reason; ready berths are still served. */
function storeAway(cause: unknown): BerthError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new BerthError({
    code: 'store_unavailable',
    userMessage: `The gateway's database does not answer (${reason}), so this cannot be done now; environments already running are still served. Try again in a minute; /_berth/healthz says when the database is back.`,
    logMessage: `the PostgreSQL store does not answer: ${reason}`,
    cause,
  });
}

/** The PostgreSQL store cannot be opened: say how to fix it, never with the URL's password (pg's messages hold none). */
function unreachable(err: unknown): BerthError {
  // At start the reader is the operator: the fix, not the serving-time message of storeAway.
  const cause = err instanceof BerthError && err.code === 'store_unavailable' ? err.cause : err;
  if (cause instanceof BerthError) return cause;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new BerthError({
    code: 'store_unavailable',
    userMessage: `Cannot open the PostgreSQL store (store.url, store.urlFile or the PG* variables): ${reason}. Check that it is reachable with these credentials and that the gateway may create tables in it.`,
    cause,
  });
}

function tokenOf(row: Selectable<Database['tokens']>): StoredToken {
  return {
    id: row.id,
    user: row.user,
    name: row.name,
    scopes: row.scopes.split(',').filter((s): s is TokenScope => s === 'api' || s === 'apps'),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
  };
}

function sshKeyOf(row: Selectable<Database['ssh_keys']>): SshKey {
  return {
    id: row.id as number,
    user: row.user,
    publicKey: row.public_key,
    fingerprint: row.fingerprint,
    comment: row.comment,
    createdAt: row.created_at,
  };
}

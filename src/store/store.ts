import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, sql, type Selectable } from 'kysely';
import { storageFailure } from '../core/errors.js';
import { safeName } from '../core/safeName.js';
import { migrations, type Database } from './schema.js';
import { StoreSqliteDialect } from './sqliteDialect.js';

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

/** How many events per user are kept; older ones are pruned as new ones arrive. */
const EVENTS_KEPT = 200;

/**
 * The gateway's persistent state behind one small class, so a Postgres
 * implementation for several gateways is one more file with the same methods.
 */
/** Rows or users per statement: SQLite bounds the parameters of one. */
const EVENTS_PER_INSERT = 500;

export class Store {
  private constructor(readonly db: Kysely<Database>) {}

  /** SQLite's own journal makes every write atomic; a first start on a full disk leaves a database the next start completes. */
  static async open(dataDir: string): Promise<Store> {
    const path = join(dataDir, 'berth.db');
    let sqlite: SqliteDatabase.Database | undefined;
    try {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      sqlite = new SqliteDatabase(path);
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('busy_timeout = 5000');
      const store = new Store(new Kysely<Database>({ dialect: new StoreSqliteDialect(sqlite) }));
      await store.migrate();
      return store;
    } catch (err) {
      sqlite?.close();
      throw storageFailure(err, path) ?? err;
    }
  }

  private async migrate(): Promise<void> {
    await sql`create table if not exists schema_version (version integer not null)`.execute(this.db);
    const row = await sql<{ version: number }>`select max(version) as version from schema_version`.execute(this.db);
    const current = row.rows[0]?.version ?? 0;
    for (let i = current; i < migrations.length; i++) {
      await this.db.transaction().execute(async (trx) => {
        await (migrations[i] as (db: Kysely<Database>) => Promise<void>)(trx);
        await sql`insert into schema_version (version) values (${i + 1})`.execute(trx);
      });
    }
  }

  async saveActivity(entries: ReadonlyMap<string, number>): Promise<void> {
    if (entries.size === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const [user, at] of entries) {
        await trx
          .insertInto('activity')
          .values({ user, last_activity: at })
          .onConflict((oc) => oc.column('user').doUpdateSet({ last_activity: at }))
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
            select id, row_number() over (partition by user order by id desc) as newer
            from events where user in (${sql.join(users.slice(i, i + EVENTS_PER_INSERT))})
          ) where newer > ${EVENTS_KEPT}
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

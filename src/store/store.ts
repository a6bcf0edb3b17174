import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { migrations, type Database } from './schema.js';

export interface BerthEvent {
  user: string;
  at: number;
  kind: string;
  message: string;
}

/** How many events per user are kept; older ones are pruned as new ones arrive. */
const EVENTS_KEPT = 200;

/**
 * The gateway's persistent state behind one small class, so a Postgres
 * implementation for several gateways is one more file with the same methods.
 */
export class Store {
  private constructor(readonly db: Kysely<Database>) {}

  static async open(dataDir: string): Promise<Store> {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const sqlite = new SqliteDatabase(join(dataDir, 'berth.db'));
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    const store = new Store(new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }));
    await store.migrate();
    return store;
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
      }
    });
  }

  async loadActivity(): Promise<Map<string, number>> {
    const rows = await this.db.selectFrom('activity').selectAll().execute();
    return new Map(rows.map((r) => [r.user, r.last_activity]));
  }

  async addEvent(event: BerthEvent): Promise<void> {
    await this.db.insertInto('events').values({ ...event, id: undefined }).execute();
    await this.db
      .deleteFrom('events')
      .where('user', '=', event.user)
      .where('id', 'not in', (qb) =>
        qb.selectFrom('events').select('id').where('user', '=', event.user).orderBy('id', 'desc').limit(EVENTS_KEPT),
      )
      .execute();
  }

  async recentEvents(user: string | null, limit: number): Promise<BerthEvent[]> {
    let query = this.db.selectFrom('events').select(['user', 'at', 'kind', 'message']).orderBy('id', 'desc').limit(limit);
    if (user !== null) query = query.where('user', '=', user);
    return query.execute();
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

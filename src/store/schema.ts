import { sql, type Kysely } from 'kysely';

/** Tables as Kysely sees them. Times are milliseconds since the epoch. */
export interface Database {
  activity: { user: string; last_activity: number };
  events: { id: number | undefined; user: string; at: number; kind: string; message: string };
}

/**
 * Migrations, applied in order once each; append, never edit a released one,
 * since gateways in the field have already run it.
 */
export const migrations: Array<(db: Kysely<Database>) => Promise<void>> = [
  async (db) => {
    await db.schema
      .createTable('activity')
      .addColumn('user', 'text', (c) => c.primaryKey())
      .addColumn('last_activity', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('events')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('user', 'text', (c) => c.notNull())
      .addColumn('at', 'integer', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .execute();
    await sql`create index events_user_at on events (user, at)`.execute(db);
  },
];

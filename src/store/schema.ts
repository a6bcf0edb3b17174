import { sql, type Kysely } from 'kysely';

/** Tables as Kysely sees them. Times are milliseconds since the epoch. */
export interface Database {
  activity: { user: string; last_activity: number };
  events: { id: number | undefined; user: string; at: number; kind: string; message: string };
  ssh_keys: {
    id: number | undefined;
    user: string;
    /** One authorized_keys line without options: "type base64 comment". */
    public_key: string;
    /** "SHA256:…" as OpenSSH prints it. */
    fingerprint: string;
    comment: string;
    created_at: number;
  };
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
  async (db) => {
    await db.schema
      .createTable('ssh_keys')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('user', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('comment', 'text', (c) => c.notNull())
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .addUniqueConstraint('ssh_keys_user_fingerprint', ['user', 'fingerprint'])
      .execute();
    // Authentication looks keys up by fingerprint on every SSH login.
    await sql`create index ssh_keys_fingerprint on ssh_keys (fingerprint)`.execute(db);
  },
];

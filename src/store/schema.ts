import { sql, type ColumnDefinitionBuilder, type CreateTableBuilder, type Kysely } from 'kysely';
import { safeName } from '../core/safeName.js';

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
  /** API tokens; only the SHA-256 of the secret is kept. */
  tokens: {
    id: string;
    user: string;
    name: string | null;
    hash: string;
    /** Comma-separated: "api,apps". */
    scopes: string;
    created_at: number;
    expires_at: number | null;
    last_used_at: number | null;
  };
  /** Share levels of berth ports other than the default ("owner"). */
  shares: { user: string; port: number; share: string };
  /** Every username the gateway has seen, by safe name, so app hosts can name their owner without the runtime. */
  users: { safe_name: string; user: string };
  /** Secrets every gateway on the store must share (session secret, SSH host keys), made once by whichever starts first. */
  shared_secrets: { name: string; value: string; created_at: number };
  /** One-time codes of the app-host sign-in hand-off, by SHA-256 of the code; a row is deleted when redeemed. */
  hand_off_codes: { hash: string; user: string; host: string; expires_at: number };
  /** The audit log (src/audit/kinds.ts has the vocabulary); detail is a JSON object. */
  audit: {
    id: number | undefined;
    at: number;
    kind: string;
    actor: string | null;
    via: string | null;
    source: string | null;
    target: string | null;
    outcome: string;
    detail: string;
  };
  /**
   * Who may spawn a user's berth (../spawner/coordinator.ts): the holding
   * gateway, the lease's generation (the fencing token the runtime's labels
   * carry), when it lapses unless renewed (0 once the spawn ended), and what
   * gateways following the spawn show: its state, progress (JSON array of
   * events) and failure (JSON, when it failed).
   */
  spawn_leases: {
    user: string;
    holder: string;
    generation: number;
    expires_at: number;
    state: string;
    progress: string;
    failure: string | null;
  };
  /** The profile each user last started (options as a JSON object) and the groups they had then: what SSH starts use. */
  profile_choices: { user: string; profile: string; options: string; groups: string; updated_at: number };
}

export type Dialect = 'sqlite' | 'postgres';

/** A generated integer key: SQLite's rowid alias must be spelled "integer primary key"; PostgreSQL has bigserial. */
function addId<T extends string>(table: CreateTableBuilder<T, never>, dialect: Dialect): CreateTableBuilder<T, 'id'> {
  return dialect === 'postgres'
    ? table.addColumn('id', 'bigserial', (c) => c.primaryKey())
    : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

/** Milliseconds since the epoch outgrow PostgreSQL's 32-bit integer; SQLite's integer is 64-bit whatever it is called. */
const TIME = 'bigint';
const notNull = (c: ColumnDefinitionBuilder) => c.notNull();

/**
 * Migrations, applied in order once each; append, never change what a
 * released one makes, since gateways in the field have already run it. (The
 * first three were written for SQLite alone; they now quote "user", a reserved
 * word in PostgreSQL, and say bigint for times, which on SQLite is the same
 * integer column as before.)
 */
export const migrations: Array<(db: Kysely<Database>, dialect: Dialect) => Promise<void>> = [
  async (db, dialect) => {
    await db.schema
      .createTable('activity')
      .addColumn('user', 'text', (c) => c.primaryKey())
      .addColumn('last_activity', TIME, notNull)
      .execute();
    await addId(db.schema.createTable('events'), dialect)
      .addColumn('user', 'text', (c) => c.notNull())
      .addColumn('at', TIME, notNull)
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .execute();
    await sql`create index events_user_at on events ("user", at)`.execute(db);
  },
  async (db, dialect) => {
    await addId(db.schema.createTable('ssh_keys'), dialect)
      .addColumn('user', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('comment', 'text', (c) => c.notNull())
      .addColumn('created_at', TIME, notNull)
      .addUniqueConstraint('ssh_keys_user_fingerprint', ['user', 'fingerprint'])
      .execute();
    // Authentication looks keys up by fingerprint on every SSH login.
    await sql`create index ssh_keys_fingerprint on ssh_keys (fingerprint)`.execute(db);
  },
  async (db) => {
    await db.schema
      .createTable('tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user', 'text', (c) => c.notNull())
      .addColumn('name', 'text')
      .addColumn('hash', 'text', (c) => c.notNull().unique())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('created_at', TIME, notNull)
      .addColumn('expires_at', TIME)
      .addColumn('last_used_at', TIME)
      .execute();
    await sql`create index tokens_user on tokens ("user")`.execute(db);
    await db.schema
      .createTable('shares')
      .addColumn('user', 'text', (c) => c.notNull())
      .addColumn('port', 'integer', (c) => c.notNull())
      .addColumn('share', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('shares_pk', ['user', 'port'])
      .execute();
    await db.schema
      .createTable('users')
      .addColumn('safe_name', 'text', (c) => c.primaryKey())
      .addColumn('user', 'text', (c) => c.notNull())
      .execute();
    // Users known before this table existed.
    const known = await sql<{ user: string }>`select "user" from activity union select "user" from ssh_keys`.execute(db);
    for (const { user } of known.rows) {
      await db.insertInto('users').values({ safe_name: safeName(user), user }).onConflict((oc) => oc.doNothing()).execute();
    }
  },
  async (db) => {
    await db.schema
      .createTable('shared_secrets')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', notNull)
      .addColumn('created_at', TIME, notNull)
      .execute();
    await db.schema
      .createTable('hand_off_codes')
      .addColumn('hash', 'text', (c) => c.primaryKey())
      .addColumn('user', 'text', notNull)
      .addColumn('host', 'text', notNull)
      .addColumn('expires_at', TIME, notNull)
      .execute();
    // Issuing a code prunes expired ones.
    await sql`create index hand_off_codes_expires_at on hand_off_codes (expires_at)`.execute(db);
  },
  async (db, dialect) => {
    await addId(db.schema.createTable('audit'), dialect)
      .addColumn('at', TIME, notNull)
      .addColumn('kind', 'text', notNull)
      .addColumn('actor', 'text')
      .addColumn('via', 'text')
      .addColumn('source', 'text')
      .addColumn('target', 'text')
      .addColumn('outcome', 'text', notNull)
      .addColumn('detail', 'text', notNull)
      .execute();
    // Retention deletes by time; a user's own view reads by actor or target, newest first.
    await sql`create index audit_at on audit (at)`.execute(db);
    await sql`create index audit_actor_id on audit (actor, id)`.execute(db);
    await sql`create index audit_target_id on audit (target, id)`.execute(db);
  },
  async (db) => {
    await db.schema
      .createTable('spawn_leases')
      .addColumn('user', 'text', (c) => c.primaryKey())
      .addColumn('holder', 'text', notNull)
      .addColumn('generation', 'bigint', notNull)
      .addColumn('expires_at', TIME, notNull)
      .addColumn('state', 'text', notNull)
      .addColumn('progress', 'text', notNull)
      .addColumn('failure', 'text')
      .execute();
  },
  async (db) => {
    await db.schema
      .createTable('profile_choices')
      .addColumn('user', 'text', (c) => c.primaryKey())
      .addColumn('profile', 'text', notNull)
      .addColumn('options', 'text', notNull)
      .addColumn('groups', 'text', notNull)
      .addColumn('updated_at', TIME, notNull)
      .execute();
  },
];

import { sql, type Kysely } from 'kysely';
import { BerthError } from '../core/errors.js';
import type { Database } from './schema.js';
import type { Store } from './store.js';

/** What `berth store copy` moves, in an order that keeps every row's references valid. */
const TABLES = ['users', 'activity', 'ssh_keys', 'tokens', 'shares', 'events', 'audit'] as const satisfies ReadonlyArray<keyof Database>;
export type CopiedTable = (typeof TABLES)[number];

/** Tables whose generated ids are copied as they are: their sequences must then start past them. */
const WITH_IDS: readonly CopiedTable[] = ['ssh_keys', 'events', 'audit'];

/** Rows per insert: within both databases' bounds on the parameters of one statement. */
const ROWS_PER_INSERT = 500;

/**
 * Copies every user, activity clock, SSH key, token, share, event and audit event from one
 * store into another in one transaction, ids included (users delete keys and
 * tokens by id). The target must hold none of them yet: merging two installs'
 * rows would make ids clash, so the copy refuses rather than guess.
 */
export async function copyStore(from: Store, to: Store): Promise<Record<CopiedTable, number>> {
  const counts = {} as Record<CopiedTable, number>;
  await to.db.transaction().execute(async (trx) => {
    for (const table of TABLES) {
      const present = await countRows(trx, table);
      if (present > 0) {
        throw new BerthError({
          code: 'bad_request',
          userMessage: `The target store already has ${present} rows in ${table}: copy into a new, empty database (createdb), or drop this one first.`,
        });
      }
    }
    for (const table of TABLES) {
      const rows = (await from.db.selectFrom(table).selectAll().execute()) as Array<Record<string, unknown>>;
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        await trx
          .insertInto(table)
          .values(rows.slice(i, i + ROWS_PER_INSERT) as never)
          .execute();
      }
      counts[table] = rows.length;
    }
    if (to.dialect === 'postgres') {
      for (const table of WITH_IDS) {
        // The next generated id follows the largest copied one.
        await sql`select setval(pg_get_serial_sequence(${table}, 'id'), coalesce((select max(id) from ${sql.table(table)}), 0) + 1, false)`.execute(trx);
      }
    }
  });
  return counts;
}

async function countRows(db: Kysely<Database>, table: CopiedTable): Promise<number> {
  const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

import type { Selectable } from 'kysely';
import type { Database } from './schema.js';
import type { Store } from './store.js';

/** An audit row as the store keeps it, its detail parsed; src/audit/ gives `kind` and `detail` their meaning. */
export type AuditRow = Omit<Selectable<Database['audit']>, 'id' | 'detail'> & { detail: Record<string, unknown> };

export interface AuditQuery {
  /** Events this user did or that concern them (actor or target). */
  user?: string;
  /** A whole kind ("ssh.session.opened") or a family ending in a dot ("ssh."). */
  kind?: string;
  /** Milliseconds since the epoch, inclusive. */
  since?: number;
  /** Milliseconds since the epoch, exclusive. */
  until?: number;
  /** Only events older than this id: the cursor of the previous page. */
  before?: number;
  limit: number;
}

/** Rows per statement: SQLite bounds the parameters of one. */
const ROWS_PER_INSERT = 500;

/** Appends a batch in one transaction: one commit however many events a burst made. */
export async function insertAuditRows(store: Store, rows: readonly AuditRow[]): Promise<void> {
  if (rows.length === 0) return;
  await store.db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      await trx
        .insertInto('audit')
        .values(rows.slice(i, i + ROWS_PER_INSERT).map((row) => ({ ...row, id: undefined, detail: JSON.stringify(row.detail) })))
        .execute();
    }
  });
}

/** Newest first, at most `limit`. */
export async function queryAuditRows(store: Store, query: AuditQuery): Promise<Array<AuditRow & { id: number }>> {
  let select = store.db.selectFrom('audit').selectAll().orderBy('id', 'desc').limit(query.limit);
  const { user, kind, since, until, before } = query;
  if (user !== undefined) select = select.where((eb) => eb.or([eb('actor', '=', user), eb('target', '=', user)]));
  // Kinds are lowercase letters and dots (checked by the caller), so LIKE needs no escaping.
  if (kind !== undefined) select = kind.endsWith('.') ? select.where('kind', 'like', `${kind}%`) : select.where('kind', '=', kind);
  if (since !== undefined) select = select.where('at', '>=', since);
  if (until !== undefined) select = select.where('at', '<', until);
  if (before !== undefined) select = select.where('id', '<', before);
  return (await select.execute()).map(rowOf);
}

/** Deletes events from before `cutoff`; returns how many. */
export async function pruneAuditRows(store: Store, cutoff: number): Promise<number> {
  const result = await store.db.deleteFrom('audit').where('at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}

function rowOf(row: Selectable<Database['audit']>): AuditRow & { id: number } {
  let detail: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(row.detail);
    if (typeof parsed === 'object' && parsed !== null) detail = parsed as Record<string, unknown>;
  } catch {
    // A row written by hand or cut short reads as having no detail rather than failing the whole page.
  }
  return { ...row, id: row.id as number, detail };
}

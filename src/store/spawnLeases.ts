import type { Kysely } from 'kysely';
import type { Failure, ProgressEvent } from '../core/berth.js';
import type { Database } from './schema.js';

/** A spawn lease as a gateway following another's spawn reads it. */
export interface SpawnLeaseRow {
  holder: string;
  generation: number;
  expiresAt: number;
  state: 'spawning' | 'ready' | 'failed';
  progress: ProgressEvent[];
  failure: Failure | null;
}

/**
 * The spawn_leases table: one row per user, whose generation only grows.
 * Every write that a holder makes names the generation it holds, so a
 * gateway that lost its lease (paused, cut off, presumed dead) changes
 * nothing once another has taken it over.
 */
export class SpawnLeases {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Takes the user's lease for `holder` when no one holds it (never taken,
   * ended, or lapsed): one statement, so of gateways asking at once exactly
   * one gets a row back. Returns the new generation, or null when another
   * gateway holds the lease.
   */
  async take(user: string, holder: string, ttlMs: number, now: number): Promise<number | null> {
    const expiresAt = now + ttlMs;
    const row = await this.db
      .insertInto('spawn_leases')
      .values({ user, holder, generation: 1, expires_at: expiresAt, state: 'spawning', progress: '[]', failure: null })
      .onConflict((oc) =>
        oc
          .column('user')
          .doUpdateSet((eb) => ({
            holder,
            generation: eb('spawn_leases.generation', '+', 1),
            expires_at: expiresAt,
            state: 'spawning',
            progress: '[]',
            failure: null,
          }))
          .where('spawn_leases.expires_at', '<=', now),
      )
      .returning('generation')
      .executeTakeFirst();
    return row === undefined ? null : Number(row.generation);
  }

  /** Extends the lease and saves the spawn's progress; false when `generation` is no longer the user's lease. */
  async renew(user: string, generation: number, ttlMs: number, now: number, progress: readonly ProgressEvent[]): Promise<boolean> {
    const result = await this.db
      .updateTable('spawn_leases')
      .set({ expires_at: now + ttlMs, progress: JSON.stringify(progress) })
      .where('user', '=', user)
      .where('generation', '=', generation)
      .where('state', '=', 'spawning')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Ends the spawn (ready or failed) and frees the lease for the next one; false when the lease had been taken over. */
  async finish(user: string, generation: number, state: 'ready' | 'failed', progress: readonly ProgressEvent[], failure: Failure | null): Promise<boolean> {
    const result = await this.db
      .updateTable('spawn_leases')
      .set({ expires_at: 0, state, progress: JSON.stringify(progress), failure: failure === null ? null : JSON.stringify(failure) })
      .where('user', '=', user)
      .where('generation', '=', generation)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Frees a lease whose spawn this gateway gives up unfinished (shutting down), so another takes it over at once. */
  async abandon(user: string, generation: number): Promise<void> {
    await this.db
      .updateTable('spawn_leases')
      .set({ expires_at: 0 })
      .where('user', '=', user)
      .where('generation', '=', generation)
      .where('state', '=', 'spawning')
      .execute();
  }

  async read(user: string): Promise<SpawnLeaseRow | null> {
    const row = await this.db.selectFrom('spawn_leases').selectAll().where('user', '=', user).executeTakeFirst();
    if (row === undefined) return null;
    return {
      holder: row.holder,
      generation: Number(row.generation),
      expiresAt: Number(row.expires_at),
      state: row.state as SpawnLeaseRow['state'],
      progress: JSON.parse(row.progress) as ProgressEvent[],
      failure: row.failure === null ? null : (JSON.parse(row.failure) as Failure),
    };
  }
}

import type { ShareLevel, Store } from '../store/store.js';
import type { BerthDirectory } from '../spawner/types.js';

export const SHARE_LEVELS: readonly ShareLevel[] = ['owner', 'users', 'public'];

export type Verdict = 'allowed' | 'sign_in' | 'forbidden';

/** Whether `visitor` (null: nobody signed in) may use a port shared at `share` by `owner`. */
export function verdict(share: ShareLevel, owner: string, visitor: string | null): Verdict {
  if (share === 'public' || visitor === owner) return 'allowed';
  if (visitor === null) return 'sign_in';
  return share === 'users' ? 'allowed' : 'forbidden';
}

/**
 * The username behind a safe name, from what the gateway already knows: its
 * berths, then the users it has recorded. Never asks the runtime, so a host
 * naming nobody costs nothing.
 */
export async function ownerOf(safeName: string, directory: BerthDirectory, store: Store): Promise<string | null> {
  return directory.userOf(safeName) ?? (await store.userBySafeName(safeName));
}

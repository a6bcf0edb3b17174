import type { Store } from '../../store/store.js';
import type { PublicKeyInfo } from '../keys.js';
import { DENIED, type AttemptInfo, type KeyAuthority, type Verdict } from './types.js';

/** Keys users registered themselves through /_berth/api/me/keys. */
export class StoredKeys implements KeyAuthority {
  readonly name = 'stored';

  constructor(private readonly store: Store) {}

  async checkKey(attempt: AttemptInfo, key: PublicKeyInfo): Promise<Verdict> {
    const users = await this.store.usersWithSshKey(key.fingerprint);
    return users.includes(attempt.username) ? { allowed: true, user: attempt.username } : DENIED;
  }
}

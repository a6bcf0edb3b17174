import type { Logger } from '../../log/logger.js';
import type { BerthKeySource, BerthKeyText } from '../../runtime/types.js';
import { authorizedKeysIn, type PublicKeyInfo } from '../keys.js';
import { DENIED, type AttemptInfo, type KeyAuthority, type Verdict } from './types.js';

/** How the SSH front asks the runtime for the keys a user's berth holds (Runtime.authorizedKeys). */
export type BerthKeyReader = (user: string, source: BerthKeySource) => Promise<BerthKeyText[]>;

/**
 * Keys the user's berth itself holds (attach: a label on the container, or
 * authorized_keys files in it), read on every attempt as sshd reads its
 * files, with the checks of uploaded keys (options refused).
 */
export class BerthKeys implements KeyAuthority {
  readonly name: string;

  constructor(
    private readonly source: BerthKeySource,
    private readonly read: BerthKeyReader,
    private readonly logger: Logger,
  ) {
    this.name = `berth ${source}`;
  }

  async checkKey(attempt: AttemptInfo, key: PublicKeyInfo): Promise<Verdict> {
    const user = attempt.username;
    let texts: BerthKeyText[];
    try {
      texts = await this.read(user, this.source);
    } catch (err) {
      this.logger.warn({ user, source: this.source, err: (err as Error).message }, "cannot read keys from the user's berth; other key sources are still asked");
      return DENIED;
    }
    for (const { origin, text } of texts) {
      const keys = authorizedKeysIn(text, (line) =>
        this.logger.warn({ user, origin, line }, 'authorized_keys line skipped: options are not supported, or the key is unsupported or weak'),
      );
      if (keys.some((k) => k.blob.equals(key.blob))) return { allowed: true, user };
    }
    return DENIED;
  }
}

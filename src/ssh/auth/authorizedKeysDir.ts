import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../log/logger.js';
import { authorizedKeysIn, type PublicKeyInfo } from '../keys.js';
import { DENIED, type AttemptInfo, type KeyAuthority, type Verdict } from './types.js';

/**
 * Keys from `<dir>/<username>` in authorized_keys format, read on every
 * attempt as sshd does, so an edit takes effect at the next login. Lines with
 * options are skipped with a warning (../keys.ts authorizedKeysIn).
 */
export class AuthorizedKeysDir implements KeyAuthority {
  readonly name = 'authorized_keys';

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  async checkKey(attempt: AttemptInfo, key: PublicKeyInfo): Promise<Verdict> {
    const file = this.fileOf(attempt.username);
    if (file === null) return DENIED;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn({ file, err }, 'cannot read authorized_keys file');
      return DENIED;
    }
    const keys = authorizedKeysIn(text, (line) =>
      this.logger.warn({ file, line }, 'authorized_keys line skipped: options are not supported, or the key is unsupported or weak'),
    );
    return keys.some((k) => k.blob.equals(key.blob)) ? { allowed: true, user: attempt.username } : DENIED;
  }

  /** Null for usernames that are no plain file name, so none can reach outside the directory. */
  private fileOf(username: string): string | null {
    if (username === '.' || username === '..' || /[/\\\0]/.test(username)) return null;
    return join(this.dir, username);
  }
}

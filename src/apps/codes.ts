import { randomBytes } from 'node:crypto';
import { hashToken } from '../auth/token/tokens.js';
import type { Store } from '../store/store.js';

const TTL_MS = 60_000;

/**
 * One-time codes of the sign-in hand-off from the gateway to an app host:
 * random, valid for one minute, for one host, redeemable once. Kept in the
 * store (only their hash), so the authorize request and the callback a second
 * later may land on different gateways, and a code is spent on all of them at
 * once: redeeming deletes the row in one statement.
 */
export class HandOffCodes {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  async issue(user: string, host: string): Promise<string> {
    const code = randomBytes(32).toString('base64url');
    const now = this.now();
    await this.store.addHandOffCode({ hash: hashToken(code), user, host, expiresAt: now + TTL_MS }, now);
    return code;
  }

  /** The user the code was issued to, when it is fresh and for this host; the code is spent either way. */
  async redeem(code: string, host: string): Promise<string | null> {
    if (code === '') return null;
    const entry = await this.store.takeHandOffCode(hashToken(code));
    if (entry === null) return null;
    return entry.host === host && entry.expiresAt > this.now() ? entry.user : null;
  }
}

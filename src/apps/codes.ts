import { randomBytes } from 'node:crypto';

const TTL_MS = 60_000;
/** A bound on codes waiting at once, so a flood of sign-in hand-offs cannot grow memory without end. */
const MAX_PENDING = 10_000;

interface Pending {
  user: string;
  host: string;
  expiresAt: number;
}

/**
 * One-time codes of the sign-in hand-off from the gateway to an app host:
 * random, valid for one minute, for one host, redeemable once. Kept in this
 * gateway's memory: behind several gateways the hand-off needs sticky
 * sessions (the authorize and callback requests are a second apart).
 */
export class HandOffCodes {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly now: () => number = Date.now) {}

  issue(user: string, host: string): string {
    this.prune();
    const code = randomBytes(32).toString('base64url');
    this.pending.set(code, { user, host, expiresAt: this.now() + TTL_MS });
    return code;
  }

  /** The user the code was issued to, when it is fresh and for this host; the code is spent either way. */
  redeem(code: string, host: string): string | null {
    const entry = this.pending.get(code);
    if (entry === undefined) return null;
    this.pending.delete(code);
    return entry.host === host && entry.expiresAt > this.now() ? entry.user : null;
  }

  private prune(): void {
    const now = this.now();
    for (const [code, entry] of this.pending) if (entry.expiresAt <= now) this.pending.delete(code);
    // Insertion order is age order: drop the oldest beyond the bound.
    for (const code of this.pending.keys()) {
      if (this.pending.size < MAX_PENDING) break;
      this.pending.delete(code);
    }
  }
}

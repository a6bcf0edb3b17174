import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { DailyOnce } from '../../audit/dailyOnce.js';
import { NO_AUDIT, type AuditRecorder } from '../../audit/kinds.js';
import { BerthError } from '../../core/errors.js';
import type { User } from '../../core/user.js';
import type { Store, StoredToken, TokenScope } from '../../store/store.js';
import { headerValues } from '../../http/headerValues.js';

/** Recognisable in a leaked-secret scan and in an Authorization header shared with other schemes. */
export const TOKEN_PREFIX = 'berth_';
/** Where browsers bring a token to an app host (answered with a redirect without it). */
export const TOKEN_QUERY = 'berth_token';
/** Where scripts bring a token to an app host or a berth; stripped before proxying. */
export const TOKEN_HEADER = 'x-berth-token';
export const TOKEN_SCOPES: readonly TokenScope[] = ['api', 'apps'];

const SHAPE = /^berth_[A-Za-z0-9_-]{43}$/;
/** Last use is written at most this often per token, not on every request. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Tokens carry 256 random bits, so a plain SHA-256 is a safe way to keep
 * them: looking one up by its hash compares no secret in user-visible time,
 * and the database never holds anything that could be replayed.
 */
export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export interface NewToken {
  name: string | null;
  scopes: TokenScope[];
  expiresInSeconds: number | null;
}

/** Issues, checks and (through the store) lists API tokens. */
export class Tokens {
  /** Which tokens the audit log has heard of today (token.used), kept in memory so checking one costs no extra write. */
  private readonly usedToday: DailyOnce;

  constructor(
    private readonly store: Store,
    private readonly isAdmin: (name: string) => boolean,
    private readonly audit: AuditRecorder = NO_AUDIT,
    private readonly now: () => number = Date.now,
  ) {
    this.usedToday = new DailyOnce(now);
  }

  async create(user: string, wanted: NewToken): Promise<{ token: StoredToken; secret: string }> {
    const secret = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const createdAt = this.now();
    const token: StoredToken = {
      id: randomBytes(9).toString('base64url'),
      user,
      name: wanted.name,
      scopes: [...new Set(wanted.scopes)],
      createdAt,
      expiresAt: wanted.expiresInSeconds === null ? null : createdAt + wanted.expiresInSeconds * 1000,
      lastUsedAt: null,
    };
    await this.store.addToken(token, hashToken(secret));
    await this.store.rememberUser(user);
    return { token, secret };
  }

  /**
   * The user a presented token stands for, when it is known, unexpired and
   * has one of `scopes`; otherwise a BerthError (401 unknown/expired, 403
   * wrong scope). The secret is never part of an error or log message.
   * `source` (the peer address) is for the audit log.
   */
  async check(secret: string, scopes: readonly TokenScope[], source: string | null = null): Promise<{ user: User; token: StoredToken }> {
    const token = SHAPE.test(secret) ? await this.store.tokenByHash(hashToken(secret)) : null;
    const now = this.now();
    if (token === null || expired(token, now)) {
      this.refused(token, source, token === null ? 'unknown or malformed token' : 'expired token');
      throw new BerthError({
        code: 'unauthenticated',
        userMessage: 'This Berth token is unknown, revoked or expired: create a new one at /_berth/api/me/tokens.',
        logMessage: token === null ? 'unknown or malformed token presented' : `expired token ${token.id} of ${token.user} presented`,
      });
    }
    if (!token.scopes.some((s) => scopes.includes(s))) {
      this.refused(token, source, `token without the scope ${scopes.join(' or ')}`);
      throw new BerthError({
        code: 'forbidden',
        userMessage: `This Berth token may not be used here: it needs the scope ${scopes.map((s) => `"${s}"`).join(' or ')}; create one that has it.`,
        logMessage: `token ${token.id} of ${token.user} has scopes ${token.scopes.join(',')}, needs ${scopes.join(' or ')}`,
      });
    }
    if (token.lastUsedAt === null || now - token.lastUsedAt > TOUCH_EVERY_MS) await this.store.touchToken(token.id, now);
    if (this.usedToday.first(token.id)) {
      this.audit.record({ kind: 'token.used', actor: token.user, via: 'token', source, target: token.user, outcome: 'ok', detail: { token: token.id, scopes: token.scopes.join(',') } });
    }
    return { user: { name: token.user, groups: [], admin: this.isAdmin(token.user) }, token };
  }

  /**
   * Whether the token `id` still lets `user` in with `scope`: for what a token
   * left behind (an app cookie), so that revoking the token ends it too.
   */
  async stillGrants(id: string, user: string, scope: TokenScope): Promise<boolean> {
    const token = await this.store.tokenById(id);
    return token !== null && token.user === user && !expired(token, this.now()) && token.scopes.includes(scope);
  }

  private refused(token: StoredToken | null, source: string | null, reason: string): void {
    const user = token?.user ?? null;
    this.audit.record({ kind: 'signin.failed', actor: user, via: 'token', source, target: user, outcome: 'refused', detail: { mode: 'token', reason, token: token?.id ?? null } });
  }
}

function expired(token: StoredToken, now: number): boolean {
  return token.expiresAt !== null && token.expiresAt <= now;
}

/** A Berth token in `Authorization: Bearer …`, or null (other schemes and other bearer tokens are not ours). */
export function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (header === undefined) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match !== null && (match[1] as string).startsWith(TOKEN_PREFIX) ? (match[1] as string) : null;
}

/** The X-Berth-Token header, or null. */
export function headerToken(req: IncomingMessage): string | null {
  const text = headerValues(req, TOKEN_HEADER)?.[0];
  return text === undefined || text.trim() === '' ? null : text.trim();
}

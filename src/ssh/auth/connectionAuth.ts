import type { AuthContext, AuthenticationType, PasswordAuthContext, PublicKeyAuthContext } from 'ssh2';
import type { AuditRecorder } from '../../audit/kinds.js';
import { parseUsername } from '../../core/safeName.js';
import type { Logger } from '../../log/logger.js';
import { parsePublicKey, type PublicKeyInfo } from '../keys.js';
import type { FailureLimiter } from './limiter.js';
import { DENIED, type AttemptInfo, type KeyAuthority, type PasswordAuthority, type Verdict } from './types.js';

export interface AuthPolicy {
  /** Asked in order; the first to allow a key wins. */
  keys: KeyAuthority[];
  /** Null: passwords are not offered at all. */
  password: PasswordAuthority | null;
  limiter: FailureLimiter;
  /** Failed attempts one connection may make before it is disconnected, as sshd's MaxAuthTries. */
  maxAttempts: number;
}

/** Why an attempt was refused; stable, for logs and alerts. */
export type AuthRefusal =
  | 'auth_rate_limited'
  | 'auth_bad_username'
  | 'auth_method_not_offered'
  | 'auth_key_unsupported'
  | 'auth_key_unknown'
  | 'auth_bad_signature'
  | 'auth_password_denied';

interface Decision {
  verdict: Verdict;
  source: string | null;
}

/**
 * Authentication of one connection. A key is first offered without a
 * signature (the client asks "would you take this one?"), then signed; the
 * authorities' answer is kept per username and key for the connection, so
 * the webhook is asked once, and only the signed attempt, verified against the
 * key, lets anyone in. Every attempt is logged with the key's fingerprint,
 * never a password or key material.
 */
export class ConnectionAuth {
  /** The berth user once authenticated. */
  user: string | null = null;
  /** How the user authenticated (publickey, password), once they have. */
  method: string | null = null;
  private failures = 0;
  private exhausted = false;
  private readonly decisions = new Map<string, Promise<Decision>>();

  constructor(
    private readonly policy: AuthPolicy,
    private readonly connection: Omit<AttemptInfo, 'username'>,
    private readonly address: string,
    private readonly logger: Logger,
    private readonly audit: AuditRecorder,
    /** Called once the connection has used up its attempts, with why the last was refused; it should disconnect. */
    private readonly onExhausted: (last: AuthRefusal) => void,
  ) {}

  handle(ctx: AuthContext): void {
    // Requests the client sent before its last allowed failure was answered: the connection is ending anyway.
    if (this.exhausted) return ctx.reject();
    this.decide(ctx).catch((err: unknown) => {
      this.logger.error({ err, user: ctx.username, method: ctx.method }, 'ssh authentication failed unexpectedly');
      ctx.reject(this.methods());
    });
  }

  private async decide(ctx: AuthContext): Promise<void> {
    // "none" is how every client asks which methods exist; it is no failed attempt.
    if (ctx.method === 'none') return ctx.reject(this.methods());
    const fields = { user: ctx.username, method: ctx.method };
    if (this.policy.limiter.blocked(this.address)) return this.refuse(ctx, fields, 'auth_rate_limited');
    const username = parseUsername(ctx.username);
    if ('problem' in username) return this.refuse(ctx, fields, 'auth_bad_username');
    const attempt: AttemptInfo = { ...this.connection, username: username.name };
    if (ctx.method === 'publickey') return this.publicKey(ctx, attempt);
    if (ctx.method === 'password' && this.policy.password) return this.password(ctx, attempt, this.policy.password);
    return this.refuse(ctx, fields, 'auth_method_not_offered');
  }

  private async publicKey(ctx: PublicKeyAuthContext, attempt: AttemptInfo): Promise<void> {
    const key = parsePublicKey(ctx.key.data);
    const fields = { user: ctx.username, method: ctx.method, keyType: ctx.key.algo, fingerprint: key?.fingerprint };
    if (key === null) return this.refuse(ctx, fields, 'auth_key_unsupported');
    const { verdict, source } = await this.decision(attempt, key);
    if (!verdict.allowed) return this.refuse(ctx, fields, 'auth_key_unknown');
    if (!ctx.signature || !ctx.blob) {
      this.logger.debug({ ...fields, source }, 'ssh key acceptable; waiting for its signature');
      return ctx.accept();
    }
    if (key.parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return this.refuse(ctx, fields, 'auth_bad_signature');
    this.admit(ctx, { ...fields, source }, verdict.user);
  }

  private async password(ctx: PasswordAuthContext, attempt: AttemptInfo, authority: PasswordAuthority): Promise<void> {
    const fields = { user: ctx.username, method: ctx.method };
    const verdict = await authority.checkPassword(attempt, ctx.password);
    if (!verdict.allowed) return this.refuse(ctx, fields, 'auth_password_denied');
    this.admit(ctx, { ...fields, source: authority.name }, verdict.user);
  }

  private decision(attempt: AttemptInfo, key: PublicKeyInfo): Promise<Decision> {
    const cacheKey = `${attempt.username}\0${key.fingerprint}`;
    let decision = this.decisions.get(cacheKey);
    if (!decision) {
      decision = this.askAuthorities(attempt, key);
      this.decisions.set(cacheKey, decision);
    }
    return decision;
  }

  private async askAuthorities(attempt: AttemptInfo, key: PublicKeyInfo): Promise<Decision> {
    for (const authority of this.policy.keys) {
      const verdict = await authority.checkKey(attempt, key);
      if (verdict.allowed) return { verdict, source: authority.name };
    }
    return { verdict: DENIED, source: null };
  }

  private admit(ctx: AuthContext, fields: Record<string, unknown>, user: string): void {
    this.user = user;
    this.method = ctx.method;
    this.audit.record({ kind: 'ssh.auth.succeeded', actor: user, via: ctx.method, source: this.address, target: user, outcome: 'ok', detail: authDetail(fields) });
    this.logger.info({ ...fields, berthUser: user, outcome: 'accepted' }, 'ssh authentication accepted');
    ctx.accept();
  }

  private refuse(ctx: AuthContext, fields: Record<string, unknown>, code: AuthRefusal): void {
    this.failures++;
    this.policy.limiter.recordFailure(this.address);
    this.logger.info({ ...fields, code, outcome: 'refused', failures: this.failures }, 'ssh authentication refused');
    this.audit.record({ kind: 'ssh.auth.failed', actor: null, via: ctx.method, source: this.address, target: null, outcome: 'refused', detail: { ...authDetail(fields), code } });
    // A blocked address gets nothing from trying on, so it is told why and disconnected at once.
    const blocked = code === 'auth_rate_limited';
    if (this.failures < this.policy.maxAttempts && !blocked) return ctx.reject(this.methods());
    if (!blocked) this.logger.warn({ user: ctx.username, failures: this.failures }, 'too many failed ssh authentication attempts; disconnecting');
    // As sshd: the disconnect is the answer. A failure reply first would make ssh give up and exit before reading why.
    this.exhausted = true;
    this.onExhausted(code);
  }

  private methods(): AuthenticationType[] {
    return this.policy.password ? ['publickey', 'password'] : ['publickey'];
  }
}

/** What an attempt's audit event says: the name tried, the method and the key's fingerprint; never a password. */
function authDetail(fields: Record<string, unknown>): Record<string, string> {
  const detail: Record<string, string> = {};
  for (const key of ['user', 'method', 'fingerprint', 'source'] as const) {
    const value = fields[key];
    if (typeof value === 'string') detail[key === 'user' ? 'username' : key] = value;
  }
  return detail;
}

import { parseUsername } from '../../core/safeName.js';
import type { Logger } from '../../log/logger.js';
import { authorizedKeyLine, type PublicKeyInfo } from '../keys.js';
import { DENIED, type AttemptInfo, type KeyAuthority, type PasswordAuthority, type Verdict } from './types.js';

/**
 * An authentication server speaking ContainerSSH's webhook protocol, so the
 * ones people already run work unchanged: POST <url>/pubkey or
 * <url>/password with the attempt as JSON, answered 200
 * {"success": bool, "authenticatedUsername"?: string}. Anything else, a
 * timeout included, denies: the gateway fails closed.
 */
export class WebhookAuthority implements KeyAuthority, PasswordAuthority {
  readonly name = 'webhook';
  private readonly base: string;

  constructor(
    url: string,
    private readonly timeoutSeconds: number,
    private readonly logger: Logger,
  ) {
    this.base = url.replace(/\/+$/, '');
  }

  checkKey(attempt: AttemptInfo, key: PublicKeyInfo): Promise<Verdict> {
    return this.ask('pubkey', attempt, { publicKey: authorizedKeyLine(key, false) });
  }

  checkPassword(attempt: AttemptInfo, password: string): Promise<Verdict> {
    return this.ask('password', attempt, { passwordBase64: Buffer.from(password, 'utf8').toString('base64') });
  }

  private async ask(kind: 'pubkey' | 'password', attempt: AttemptInfo, credential: Record<string, string>): Promise<Verdict> {
    const url = `${this.base}/${kind}`;
    let answer: unknown;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ ...attempt, ...credential }),
        // A redirect would resend the credential somewhere the operator did not name.
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutSeconds * 1000),
      });
      if (response.status !== 200) {
        this.logger.warn({ url, status: response.status }, 'ssh auth webhook answered with an error status; denying');
        return DENIED;
      }
      answer = await response.json();
    } catch (err) {
      this.logger.warn({ url, error: (err as Error).message }, 'ssh auth webhook unreachable or unreadable; denying');
      return DENIED;
    }
    return this.verdictOf(answer, attempt.username, url);
  }

  private verdictOf(answer: unknown, username: string, url: string): Verdict {
    if (typeof answer !== 'object' || answer === null || typeof (answer as { success?: unknown }).success !== 'boolean') {
      this.logger.warn({ url }, 'ssh auth webhook answer has no boolean "success"; denying');
      return DENIED;
    }
    const { success, authenticatedUsername } = answer as { success: boolean; authenticatedUsername?: unknown };
    if (!success) return DENIED;
    if (authenticatedUsername === undefined || authenticatedUsername === null || authenticatedUsername === '') {
      return { allowed: true, user: username };
    }
    const granted = typeof authenticatedUsername === 'string' ? parseUsername(authenticatedUsername) : null;
    if (granted === null || 'problem' in granted) {
      this.logger.warn({ url }, 'ssh auth webhook granted an unusable authenticatedUsername; denying');
      return DENIED;
    }
    return { allowed: true, user: granted.name };
  }
}

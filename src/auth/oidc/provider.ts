import * as client from 'openid-client';
import type { Logger } from '../../log/logger.js';
import { providerFetch } from './providerFetch.js';
import type { OidcSettings } from './settings.js';

const DISCOVERY_TIMEOUT_SECONDS = 10;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 60_000;
/** A visitor on the login page may ask again sooner than the back-off, but not more often than this. */
const MIN_ON_DEMAND_MS = 2_000;

export type ProviderState =
  | { kind: 'ready'; configuration: client.Configuration }
  | { kind: 'unreachable'; reason: string; nextAttemptAt: number };

/**
 * The provider's metadata (from discovery), fetched at start-up and, while
 * the provider cannot be reached, again with exponential back-off: the
 * gateway serves regardless, and the login page says what is wrong. The
 * retry timer is unref'd, so it never holds the process open.
 */
export class ProviderConnection {
  private state: ProviderState = { kind: 'unreachable', reason: 'not contacted yet', nextAttemptAt: 0 };
  private attempt: Promise<void> | null = null;
  private retryMs = FIRST_RETRY_MS;
  private lastAttemptAt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly settings: OidcSettings,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts the first discovery; resolves when it has succeeded or failed, never rejects. */
  start(): Promise<void> {
    return this.discover();
  }

  current(): ProviderState {
    return this.state;
  }

  /**
   * The provider's configuration, trying discovery again first when it is
   * unreachable and the last try is more than a moment old (someone is
   * waiting on the login page).
   */
  async ready(): Promise<ProviderState> {
    if (this.state.kind === 'unreachable' && this.now() - this.lastAttemptAt >= MIN_ON_DEMAND_MS) await this.discover();
    else if (this.attempt) await this.attempt;
    return this.state;
  }

  private discover(): Promise<void> {
    this.attempt ??= this.tryDiscovery().finally(() => {
      this.attempt = null;
    });
    return this.attempt;
  }

  private async tryDiscovery(): Promise<void> {
    this.lastAttemptAt = this.now();
    const { issuer, clientId, clientSecret, allowInsecure } = this.settings;
    try {
      const configuration = await client.discovery(
        issuer,
        clientId,
        clientSecret === null ? undefined : { client_secret: clientSecret },
        clientSecret === null ? client.None() : clientSecretAuth(clientSecret),
        { timeout: DISCOVERY_TIMEOUT_SECONDS, execute: allowInsecure ? [client.allowInsecureRequests] : [], [client.customFetch]: providerFetch },
      );
      this.state = { kind: 'ready', configuration };
      this.retryMs = FIRST_RETRY_MS;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.logger.info({ issuer: issuer.href }, 'OpenID provider discovered');
    } catch (err) {
      const reason = describeFailure(err);
      const delay = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
      this.state = { kind: 'unreachable', reason, nextAttemptAt: this.now() + delay };
      this.logger.warn({ issuer: issuer.href, reason, retryInMs: delay }, 'OpenID provider discovery failed; sign-in is unavailable until it succeeds');
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.discover(), delay);
      this.timer.unref();
    }
  }
}

/**
 * client_secret_basic, the OpenID default, unless the provider says it only
 * takes client_secret_post: the metadata is known only after discovery, so
 * the choice is made per request.
 */
function clientSecretAuth(secret: string): client.ClientAuth {
  const basic = client.ClientSecretBasic(secret);
  const post = client.ClientSecretPost(secret);
  return (as, metadata, body, headers) => {
    const methods = as.token_endpoint_auth_methods_supported;
    const usePost = Array.isArray(methods) && !methods.includes('client_secret_basic') && methods.includes('client_secret_post');
    return (usePost ? post : basic)(as, metadata, body, headers);
  };
}

/**
 * A reason fit for the login page and the log: the messages along the cause
 * chain (openid-client wraps the precise one), never the causes' data, which
 * may hold claims or tokens.
 */
export function describeFailure(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 4; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    const text = typeof code === 'string' && !code.startsWith('OAUTH_') && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
    if (!parts.includes(text)) parts.push(text);
  }
  return parts.length === 0 ? String(err) : parts.join(': ');
}

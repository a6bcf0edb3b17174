import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { maskUrlPassword } from '../config/load.js';
import { profileOverrides, type Config } from '../config/schema.js';
import { readTlsFiles } from '../config/tlsFiles.js';
import { BerthError } from '../core/errors.js';
import { homeFilesOf, type HomeFile } from '../core/homeFiles.js';
import type { Logger } from '../log/logger.js';
import { answerOf, type WebhookAnswer } from './webhookAnswer.js';
import type { Person, ProfileSelection } from './profiles.js';

export type { WebhookAnswer } from './webhookAnswer.js';

/** What Berth knows about a start when it asks: who, how (http, ssh, api, tunnel), and the profile picked so far. */
export interface ConfigQuestion {
  user: string;
  protocol: string;
  person: Person;
  selection: ProfileSelection | null;
  remoteAddress?: string;
  connectionId?: string;
  clientVersion?: string;
}

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 5000;
/** Left of the spawn's deadline when the webhook gives up, for the failure to be reported. */
const DEADLINE_MARGIN_MS = 200;
/** An attempt with less time than this is not worth starting. */
const MIN_ATTEMPT_MS = 100;

/**
 * A client of ContainerSSH's configuration webhook, so the servers sites
 * already run keep working: before a spawn, POST the connection's metadata
 * (ContainerSSH's ConfigRequest, plus a `berth` key) to configWebhook.url and
 * apply the parts of the answer that map onto Berth (./webhookAnswer.ts).
 * Failures are retried with back-off until the spawn's deadline; an answer
 * asking for what the gateway does not allow fails the spawn at once.
 */
export class ConfigWebhook {
  private readonly url: string;
  private readonly dispatcher: Agent;
  private readonly cache = new Map<string, { key: string; answer: WebhookAnswer; until: number }>();

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    const { url, tls } = config.configWebhook;
    if (url === null) throw new Error('ConfigWebhook needs configWebhook.url');
    this.url = url;
    this.dispatcher = new Agent({ connect: readTlsFiles('configWebhook.tls', tls) });
  }

  static fromConfig(config: Config, logger: Logger): ConfigWebhook | null {
    return config.configWebhook.url === null ? null : new ConfigWebhook(config, logger);
  }

  async configure(question: ConfigQuestion, deadline: number, progress: (message: string) => void): Promise<WebhookAnswer> {
    const key = JSON.stringify([question.selection, question.person.groups, question.protocol]);
    const cached = this.cache.get(question.user);
    if (cached && cached.key === key && cached.until > Date.now()) return cached.answer;
    const body = JSON.stringify(requestBody(question));
    const { timeoutSeconds, cacheSeconds } = this.config.configWebhook;
    let backoff = FIRST_BACKOFF_MS;
    for (let attempt = 1; ; attempt++) {
      // Each attempt ends a little before the spawn's deadline, so the reason given is the webhook's, not a bare timeout.
      const left = deadline - Date.now() - DEADLINE_MARGIN_MS;
      const outcome = await this.attempt(body, Math.max(1, Math.min(timeoutSeconds * 1000, left)));
      if ('answer' in outcome) {
        const answer = answerOf(outcome.answer, this.config, profileOverrides);
        if ('refused' in answer) throw this.refusal(question.user, answer.refused);
        if (cacheSeconds > 0) this.cache.set(question.user, { key, answer, until: Date.now() + cacheSeconds * 1000 });
        return answer;
      }
      this.logger.warn({ user: question.user, url: maskUrlPassword(this.url), attempt, problem: outcome.problem }, 'config webhook failed');
      const wait = backoff;
      if (Date.now() + wait + MIN_ATTEMPT_MS >= deadline - DEADLINE_MARGIN_MS) {
        throw new BerthError({
          code: 'spawn_failed',
          userMessage: `Your environment could not be configured: the configuration service ${outcome.problem} (${attempt} attempt${attempt === 1 ? '' : 's'}). Retry in a moment; if it keeps failing, ask the operator to check configWebhook.url.`,
        });
      }
      progress(`The configuration service ${outcome.problem}; asking again in ${(wait / 1000).toFixed(1)} s`);
      await new Promise((resolve) => setTimeout(resolve, wait));
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  /** The answer's files, confined to the home the berth gets (known only once every override is applied); refused like the rest of an answer. */
  filesFor(user: string, answer: WebhookAnswer, homePath: string): HomeFile[] {
    const files = homeFilesOf(answer.files, homePath);
    if ('refused' in files) throw this.refusal(user, files.refused);
    return files.files;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private refusal(user: string, refused: string[]): BerthError {
    this.logger.warn({ user, code: 'webhook_refused', refused }, 'config webhook asked for what the gateway does not allow; not applied');
    return new BerthError({
      code: 'forbidden',
      userMessage: `Your environment was not started: the configuration service asked for something this gateway does not allow (${refused.join('; ')}). Ask the operator to fix the configuration service.`,
    });
  }

  private async attempt(body: string, timeoutMs: number): Promise<{ answer: unknown } | { problem: string }> {
    try {
      const response = await request(this.url, {
        method: 'POST',
        dispatcher: this.dispatcher,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (response.statusCode !== 200) {
        await response.body.dump();
        return { problem: `answered HTTP ${response.statusCode}` };
      }
      try {
        return { answer: await response.body.json() };
      } catch {
        return { problem: 'answered with something that is not JSON' };
      }
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') return { problem: `did not answer within ${(timeoutMs / 1000).toFixed(1)} s` };
      return { problem: `could not be reached (${(err as { code?: string }).code ?? (err as Error).message})` };
    }
  }
}

/**
 * ContainerSSH's ConfigRequest: the connection's metadata after
 * authentication. remoteAddress is "ip:port" (ContainerSSH's servers parse
 * it so); a start with no connection behind it says 0.0.0.0:0.
 */
function requestBody(question: ConfigQuestion) {
  return {
    username: question.user,
    authenticatedUsername: question.user,
    remoteAddress: question.remoteAddress ?? '0.0.0.0:0',
    connectionId: question.connectionId ?? randomBytes(8).toString('hex'),
    clientVersion: question.clientVersion ?? '',
    metadata: {},
    environment: {},
    files: {},
    berth: {
      protocol: question.protocol,
      groups: question.person.groups,
      profile: question.selection?.profile ?? null,
      options: question.selection?.options ?? {},
    },
  };
}

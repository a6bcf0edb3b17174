import type { Config } from '../config/schema.js';
import { asBerthError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { Runtime } from '../runtime/types.js';

/** Where one image of the template or a profile stands. */
export interface ImagePull {
  image: string;
  /** queued: not asked yet; present: already on the engine; failed: retried at retryAt. */
  state: 'queued' | 'pulling' | 'present' | 'pulled' | 'failed';
  /** The last progress line, or the engine's reason for a failure. */
  message: string;
  attempts: number;
  /** When the state last changed (ms since the epoch). */
  at: number;
  retryAt: number | null;
}

export interface PrePullBackoff {
  firstMs: number;
  maxMs: number;
}

const BACKOFF: PrePullBackoff = { firstMs: 5_000, maxMs: 300_000 };

/** Every image a berth may be made from: the template's, each profile's and each profile choice's, once each. */
export function imagesToPrePull(config: Config): string[] {
  const images = [
    config.environment.image,
    ...config.profiles.flatMap((profile) => [profile.overrides.image, ...profile.options.flatMap((option) => option.choices.map((choice) => choice.overrides.image))]),
  ];
  return [...new Set(images.filter((image): image is string => typeof image === 'string' && image !== ''))];
}

/**
 * Pulls the images berths are made from in the background when the gateway
 * starts (the configuration is read only then, so a changed image is pulled
 * at the start that brings it), so the first user after an update does not
 * wait for the pull. One pull at a time, in order; a failed one is retried
 * with doubling back-off, its reason kept for the admin page and logged.
 * Runtimes without prePull (local, kubernetes) pull nothing here.
 */
export class ImagePrePuller {
  private readonly pulls: ImagePull[];
  private readonly timers = new Set<NodeJS.Timeout>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly runtime: Runtime,
    images: readonly string[],
    private readonly logger: Logger,
    private readonly backoff: PrePullBackoff = BACKOFF,
  ) {
    const now = Date.now();
    this.pulls = runtime.prePull === undefined ? [] : images.map((image) => ({ image, state: 'queued', message: 'waiting to be pulled', attempts: 0, at: now, retryAt: null }));
  }

  start(): void {
    for (const pull of this.pulls) this.enqueue(pull);
  }

  /** Copies, for the admin API and page. */
  status(): ImagePull[] {
    return this.pulls.map((pull) => ({ ...pull }));
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private enqueue(pull: ImagePull): void {
    this.queue = this.queue.then(() => this.attempt(pull));
  }

  private async attempt(pull: ImagePull): Promise<void> {
    const prePull = this.runtime.prePull;
    if (this.closed || prePull === undefined) return;
    pull.attempts++;
    this.set(pull, 'pulling', 'checking the engine for it', null);
    const began = Date.now();
    try {
      const outcome = await prePull.call(this.runtime, pull.image, (message) => {
        pull.message = message;
        this.logger.info({ image: pull.image }, message);
      });
      const seconds = Number(((Date.now() - began) / 1000).toFixed(1));
      this.set(pull, outcome, outcome === 'pulled' ? `pulled in ${seconds.toFixed(1)} s` : 'already on the engine', null);
      this.logger.info({ image: pull.image, outcome, seconds }, outcome === 'pulled' ? 'image pulled ahead of its first berth' : 'image already on the engine');
    } catch (err) {
      const error = asBerthError(err);
      const delayMs = Math.min(this.backoff.maxMs, this.backoff.firstMs * 2 ** (pull.attempts - 1));
      this.set(pull, 'failed', error.logMessage.trim(), Date.now() + delayMs);
      this.logger.warn({ image: pull.image, attempts: pull.attempts, retryInSeconds: delayMs / 1000, reason: error.logMessage }, 'could not pull the image ahead of its first berth; will retry');
      if (this.closed) return;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.enqueue(pull);
      }, delayMs);
      timer.unref();
      this.timers.add(timer);
    }
  }

  private set(pull: ImagePull, state: ImagePull['state'], message: string, retryAt: number | null): void {
    pull.state = state;
    pull.message = message;
    pull.at = Date.now();
    pull.retryAt = retryAt;
  }
}

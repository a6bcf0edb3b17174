import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { AuditDetail, AuditKind, AuditOutcome, AuditRecorder } from '../audit/kinds.js';
import type { Config } from '../config/schema.js';
import type { BerthStatus, Failure, ProgressEvent, ProgressStep } from '../core/berth.js';
import { BerthError, asBerthError } from '../core/errors.js';
import { describeExit, type ExitFacts } from '../core/exit.js';
import { safeName } from '../core/safeName.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ConfigWebhook } from '../profiles/configWebhook.js';
import { berthSpecFor } from '../runtime/spec.js';
import type { BerthExit, BerthPort, BerthSpec, ExecOptions, ExecProcess, ListeningPort, Observed, Runtime } from '../runtime/types.js';
import { notificationsFor, type BerthNotice, type Notifications } from '../store/notifications.js';
import type { BerthEvent, Store } from '../store/store.js';
import { coordinatorFor, type SpawnCoordinator, type SpawnLease } from './coordinator.js';
import { waitUntilReady } from './readiness.js';
import { SpawnPlanner, type LaunchRequest } from './plan.js';
import { Semaphore } from './semaphore.js';
import type { BerthDirectory, StartReason } from './types.js';

type Listener = (event: ProgressEvent, status: BerthStatus) => void;

interface Entry {
  status: BerthStatus;
  /** The template's spec until the first spawn, then the one that spawn planned (profile, webhook). */
  spec: BerthSpec;
  /** What the front asking for the next spawn knew (profile asked for, groups, connection). */
  launch: LaunchRequest;
  /** The main port while ready, made once so the proxy's hot path allocates nothing for it. */
  target: BerthPort | null;
  /** The newest spawn or stop in flight; new ones chain behind it, so at most one runs (single flight). */
  transition: Promise<void> | null;
  /** A spawn is queued behind a stop in flight; further starts join it. */
  startQueued: boolean;
  /** A stop arrived during a spawn: the spawn gives up waiting and leaves the berth to the stop. */
  stopRequested: boolean;
  spawnBegan: number;
  /** Set when the runtime reports an exit while a spawn waits for the port. */
  exitedDuringSpawn: ExitFacts | null;
  listeners: Set<Listener>;
  holds: number;
  /** The spawn lease while this gateway spawns the berth under one, so its progress reaches gateways following it. */
  lease: SpawnLease | null;
}

export interface SpawnerOptions {
  config: Config;
  runtime: Runtime;
  store: Store;
  logger: Logger;
  metrics: Metrics;
  /** Single flight across gateways; by default chosen by the store (./coordinator.ts). */
  coordinator?: SpawnCoordinator;
  /** Berth state changes to and from other gateways on the store; by default chosen by the store. */
  notifications?: Notifications;
  /** Where starts, failures and stops are recorded. */
  audit?: AuditRecorder;
  /** Asked before every spawn when configWebhook.url is set. */
  webhook?: ConfigWebhook | null;
}

const LOG_TAIL_LINES = 40;
const ACTIVITY_FLUSH_MS = 5000;

/**
 * The one place berths change state. HTTP, SSH and the API call it through
 * the BerthDirectory interface; the runtime only ever sees calls from here.
 */
export class Spawner implements BerthDirectory {
  private readonly entries = new Map<string, Entry>();
  private readonly byName = new Map<string, string>();
  private readonly semaphore: Semaphore;
  private readonly stoppedListeners = new Set<(user: string, why: string) => void>();
  private readonly stateListeners = new Set<(status: Readonly<BerthStatus>) => void>();
  private readonly dirtyActivity = new Set<string>();
  /** Events not yet written: record() batches them into one store transaction per turn of the event loop. */
  private pendingEvents: BerthEvent[] = [];
  private readonly flushTimer: NodeJS.Timeout;
  private readonly planner: SpawnPlanner;
  private readonly coordinator: SpawnCoordinator;
  private readonly notifications: Notifications;
  /** Set when the runtime said it cannot pause on this engine after all: the culler then only stops. */
  private pauseRefused: string | null = null;
  /** This gateway among those sharing the store. */
  readonly gatewayId = randomUUID();

  constructor(private readonly options: SpawnerOptions) {
    this.planner = new SpawnPlanner({ config: options.config, store: options.store, logger: options.logger, webhook: options.webhook ?? null });
    this.semaphore = new Semaphore(options.config.spawn.concurrency);
    this.coordinator = options.coordinator ?? coordinatorFor(options.store, this.gatewayId, options.logger);
    this.notifications = options.notifications ?? notificationsFor(options.store, this.gatewayId, options.logger);
    this.notifications.listen({ notice: (notice) => this.learn(notice), resync: () => void this.resync() });
    options.runtime.onExit((exit) => this.handleExit(exit));
    this.flushTimer = setInterval(() => void this.flushActivity(), ACTIVITY_FLUSH_MS);
    this.flushTimer.unref();
  }

  /** Takes over berths that were running before the gateway (re)started, with their idle clocks. */
  async adopt(): Promise<number> {
    const [observed, activity] = await Promise.all([this.options.runtime.list(), this.options.store.loadActivity()]);
    let adopted = 0;
    for (const berth of observed) {
      if ((berth.state !== 'running' && berth.state !== 'paused') || !berth.user) continue;
      await this.adoptRunning(this.entry(berth.user), berth, activity.get(berth.user) ?? Date.now());
      // What it runs, said per berth: for attach, this is the attach (src/runtime/attach/).
      this.options.logger.info({ user: berth.user, runtimeId: berth.id, image: berth.image }, 'adopted running berth');
      this.audit(berth.user, 'spawn.adopted', 'ok', { runtimeId: berth.id, image: berth.image });
      adopted++;
    }
    if (adopted > 0) this.options.logger.info({ adopted }, 'adopted running berths');
    return adopted;
  }

  /**
   * After notices may have been missed: the runtime says which berths run,
   * the store when each was last used; berths this gateway thought ready
   * that no longer run are stopped in its view.
   */
  async resync(): Promise<void> {
    try {
      const [observed, activity] = await Promise.all([this.options.runtime.list(), this.options.store.loadActivity()]);
      // A paused berth is still there: adopted as paused, not taken for stopped.
      const running = new Map(observed.filter((b) => (b.state === 'running' || b.state === 'paused') && b.user).map((b) => [b.user, b]));
      for (const [user, berth] of running) {
        const entry = this.entry(user);
        const seen = berth.state === 'paused' && this.canPause ? 'paused' : 'ready';
        if (entry.transition === null && entry.status.state !== seen) await this.adoptRunning(entry, berth, activity.get(user) ?? Date.now());
      }
      for (const [user, entry] of this.entries) {
        const live = entry.status.state === 'ready' || entry.status.state === 'paused';
        if (!running.has(user) && entry.transition === null && live) this.stoppedElsewhere(entry, 'stopped', 'it stopped on another gateway');
      }
    } catch (err) {
      this.options.logger.warn({ err }, 'could not re-read berths after missing notices; the next request to each finds out');
    }
  }

  /** Null while this gateway hears of other gateways' berth changes, else why not (for /_berth/healthz). */
  notificationProblem(): string | null {
    return this.notifications.problem();
  }

  status(user: string): BerthStatus {
    return this.entries.get(user)?.status ?? this.freshStatus(user);
  }

  list(): BerthStatus[] {
    return [...this.entries.values()].map((e) => e.status);
  }

  userOf(name: string): string | null {
    return this.byName.get(name) ?? null;
  }

  readyTarget(user: string): BerthPort | null {
    const entry = this.entries.get(user);
    return entry !== undefined && entry.status.state === 'ready' ? entry.target : null;
  }

  start(user: string, reason: StartReason, launch?: LaunchRequest): void {
    const entry = this.entry(user);
    if (launch) entry.launch = launch;
    if (entry.startQueued || entry.status.state === 'ready' || entry.status.state === 'starting') return;
    entry.startQueued = true;
    this.options.logger.info({ user, reason }, 'starting berth');
    this.audit(user, 'spawn.requested', 'ok', { reason });
    this.runTransition(entry, () => {
      entry.startQueued = false;
      // Decided when it runs: a pause queued before this start has made the berth paused by then.
      return entry.status.state === 'paused' ? this.resumeNow(entry, reason) : this.spawn(entry, reason);
    });
  }

  /**
   * Freezes a ready berth nobody uses (the culler, after idle.pauseAfterSeconds);
   * false, leaving it alone, where the runtime cannot pause or something is in flight.
   */
  async pause(user: string): Promise<boolean> {
    const entry = this.entries.get(user);
    if (!entry || entry.status.state !== 'ready' || entry.transition !== null || !this.canPause) return false;
    // Paused before the engine is asked, so no new request is proxied into a berth being frozen: it waits in ready()
    // instead, here and (told now) on the other gateways.
    this.setState(entry, 'paused');
    void this.notifications.publish({ user, state: 'paused' });
    let paused = false;
    this.runTransition(entry, async () => {
      paused = await this.pauseNow(entry);
    });
    await entry.transition;
    return paused;
  }

  /** Whether idle berths can be paused here (the runtime has pause and resume). */
  get canPause(): boolean {
    const { runtime } = this.options;
    return runtime.pause !== undefined && runtime.resume !== undefined && this.pauseRefused === null;
  }

  async ready(user: string, reason: StartReason, waitMs?: number, launch?: LaunchRequest): Promise<BerthPort> {
    const entry = this.entry(user);
    if (!(entry.status.state === 'ready' && entry.target)) {
      this.start(user, reason, launch);
      const deadline = waitMs === undefined ? Infinity : Date.now() + waitMs;
      // Transitions chain, so waiting for the newest one waits for all queued before it.
      while (entry.transition && (await settlesWithin(entry.transition, deadline - Date.now())));
    }
    if (entry.status.state === 'ready' && entry.target) return entry.target;
    if (entry.status.state === 'failed' && entry.status.failure) {
      throw new BerthError({
        code: 'spawn_failed',
        userMessage: entry.status.failure.reason,
        logMessage: `berth of ${user} failed: ${entry.status.failure.reason}`,
      });
    }
    throw new BerthError({
      code: 'berth_not_ready',
      userMessage: `Your environment is ${entry.status.state}; try again in a few seconds.`,
    });
  }

  target(user: string, port: number): BerthPort {
    const entry = this.entries.get(user);
    if (!entry || entry.status.state !== 'ready') throw notRunning();
    return entry.target?.port === port ? entry.target : { name: entry.spec.name, port };
  }

  connect(target: BerthPort): Promise<Duplex> {
    const user = this.byName.get(target.name);
    const entry = user === undefined ? undefined : this.entries.get(user);
    if (entry?.status.state !== 'ready') return Promise.reject(notRunning());
    return this.options.runtime.connect(target.name, target.port);
  }

  async listening(user: string): Promise<ListeningPort[]> {
    return this.options.runtime.listening(this.entry(user).spec.name);
  }

  async exec(user: string, options: ExecOptions): Promise<ExecProcess> {
    return this.options.runtime.exec(this.entry(user).spec.name, options);
  }

  async stop(user: string, why: string): Promise<void> {
    const entry = this.entries.get(user);
    if (!entry) return;
    const remove = why === 'idle' && this.options.config.idle.action === 'remove';
    if (entry.status.state === 'starting') entry.stopRequested = true;
    // Queued behind any spawn in flight, so the runtime never sees stop and create racing.
    this.runTransition(entry, async () => {
      if (entry.status.state !== 'stopped') await this.stopNow(entry, why, remove);
    });
    await entry.transition;
  }

  subscribe(user: string, listener: Listener): () => void {
    const entry = this.entry(user);
    for (const event of entry.status.progress) listener(event, entry.status);
    entry.listeners.add(listener);
    return () => entry.listeners.delete(listener);
  }

  touch(user: string): void {
    const entry = this.entries.get(user);
    if (!entry) return;
    entry.status.lastActivity = Date.now();
    this.dirtyActivity.add(user);
  }

  hold(user: string): () => void {
    const entry = this.entry(user);
    entry.holds++;
    this.touch(user);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.holds--;
      this.touch(user);
    };
  }

  /** Every state change of every berth this gateway knows, as it happens (the embedding API's 'berth' event). */
  onStateChange(listener: (status: Readonly<BerthStatus>) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  onStopped(listener: (user: string, why: string) => void): () => void {
    this.stoppedListeners.add(listener);
    return () => this.stoppedListeners.delete(listener);
  }

  /** The newest activity any gateway flushed, into this one's clocks; nothing to read where this gateway is the only one. */
  async refreshActivity(): Promise<void> {
    if (this.options.store.dialect === 'sqlite') return;
    for (const [user, at] of await this.options.store.loadActivity()) {
      const entry = this.entries.get(user);
      if (entry !== undefined && at > (entry.status.lastActivity ?? 0)) entry.status.lastActivity = at;
    }
  }

  /** Berths the culler may stop (ready or paused) or, with `only: 'ready'`, pause: not held open, and idle since before `cutoff`. */
  idleSince(cutoff: number, only?: 'ready'): string[] {
    const idle: string[] = [];
    for (const [user, entry] of this.entries) {
      const { state } = entry.status;
      if ((state !== 'ready' && (only === 'ready' || state !== 'paused')) || entry.holds > 0 || entry.transition) continue;
      if ((entry.status.lastActivity ?? 0) < cutoff) idle.push(user);
    }
    return idle;
  }

  /** Stops every berth (the local runtime's processes die with the gateway anyway) and saves activity. */
  async close(options: { stopBerths: boolean }): Promise<void> {
    clearInterval(this.flushTimer);
    await this.coordinator.close();
    if (options.stopBerths) {
      await Promise.allSettled([...this.entries.keys()].map((user) => this.stop(user, 'gateway shutting down')));
    }
    await this.flushActivity();
    await this.flushEvents();
    await this.options.webhook?.close();
    await this.notifications.close();
  }

  /** A notice from another gateway; a berth with a spawn or stop in flight here finds out by itself. */
  private learn(notice: BerthNotice): void {
    const entry = notice.state === 'ready' ? this.entry(notice.user) : this.entries.get(notice.user);
    if (entry === undefined || entry.transition !== null) return;
    if (notice.state === 'ready') {
      if (entry.status.state === 'ready') return;
      this.runTransition(entry, async () => {
        const observed = await this.options.runtime.inspect(entry.spec.name).catch(() => null);
        if (observed?.state === 'running') await this.adoptRunning(entry, observed, Date.now()).catch(() => undefined);
      });
      return;
    }
    if (notice.state === 'paused') {
      // Requests wait in ready() and resume it (start()), as they would where it was paused.
      if (entry.status.state === 'ready') this.setState(entry, 'paused');
      return;
    }
    if (notice.state === 'stopping') {
      if (entry.status.state !== 'ready') return;
      entry.target = null;
      this.setState(entry, 'stopping');
      return;
    }
    if (entry.status.state === 'ready' || entry.status.state === 'stopping') {
      this.stoppedElsewhere(entry, notice.state, notice.reason ?? 'it stopped on another gateway');
    }
  }

  /** What another gateway did to the berth, applied to this one's view alone: the runtime and the events are that gateway's. */
  private stoppedElsewhere(entry: Entry, state: 'stopped' | 'failed', why: string): void {
    entry.target = null;
    entry.status.failure = state === 'failed' ? { reason: why, logTail: [], at: Date.now() } : null;
    this.setState(entry, state);
    this.emit(entry, state, state === 'failed' ? why : `Stopped: ${why}`, entry.status.failure ?? undefined);
    this.notifyStopped(entry.spec.user, why);
  }

  /** A berth found running (at start, or made ready by another gateway): ready here too. */
  private async adoptRunning(entry: Entry, berth: Observed, lastActivity: number): Promise<void> {
    entry.target = { name: berth.name, port: await this.options.runtime.mainPort(berth.name) };
    entry.status.startedAt = berth.startedAt;
    entry.status.runtimeId = berth.id;
    entry.status.image = berth.image;
    entry.status.lastActivity = Math.max(entry.status.lastActivity ?? 0, lastActivity);
    // Paused stays paused: only use resumes it (start()), so adoption wakes nothing nobody uses. A runtime
    // that cannot resume (attach, seeing a container its owner paused) serves it as it always did.
    this.setState(entry, berth.state === 'paused' && this.canPause ? 'paused' : 'ready');
  }

  private entry(user: string): Entry {
    let entry = this.entries.get(user);
    if (!entry) {
      const spec = berthSpecFor(this.options.config, user);
      entry = {
        status: this.freshStatus(user),
        spec,
        launch: {},
        target: null,
        transition: null,
        startQueued: false,
        stopRequested: false,
        spawnBegan: 0,
        exitedDuringSpawn: null,
        listeners: new Set(),
        holds: 0,
        lease: null,
      };
      this.entries.set(user, entry);
      this.byName.set(spec.name, user);
    }
    return entry;
  }

  private freshStatus(user: string): BerthStatus {
    return {
      user,
      name: safeName(user),
      state: 'stopped',
      since: Date.now(),
      startedAt: null,
      lastActivity: null,
      progress: [],
      failure: null,
      runtimeId: null,
      image: this.options.config.environment.image,
      profile: null,
    };
  }

  private runTransition(entry: Entry, work: () => Promise<void>): void {
    // With nothing in flight the work starts synchronously, so the state is 'starting' before start() returns.
    const transition = (entry.transition ? entry.transition.then(work) : work())
      .catch((err) => this.options.logger.error({ err, user: entry.status.user }, 'berth transition failed unexpectedly'))
      .finally(() => {
        if (entry.transition === transition) entry.transition = null;
      });
    entry.transition = transition;
  }

  private setState(entry: Entry, state: BerthStatus['state']): void {
    entry.status.state = state;
    entry.status.since = Date.now();
    for (const listener of this.stateListeners) {
      try {
        listener(entry.status);
      } catch (err) {
        this.options.logger.warn({ err }, 'berth state listener threw');
      }
    }
  }

  private emit(entry: Entry, step: ProgressStep, message: string, failure?: Failure): void {
    this.publish(entry, { step, message, elapsedMs: Date.now() - entry.spawnBegan, ...(failure ? { failure } : {}) });
    entry.lease?.progress(entry.status.progress);
  }

  /** An event of this gateway's spawn, or of another gateway's that this one follows. */
  private publish(entry: Entry, event: ProgressEvent): void {
    entry.status.progress.push(event);
    for (const listener of entry.listeners) {
      try {
        listener(event, entry.status);
      } catch (err) {
        this.options.logger.warn({ err }, 'progress listener threw');
      }
    }
  }

  /**
   * Spawns under the lease, or follows the gateway holding it and serves the
   * berth once that one has it ready; a lease its holder gives up or lets
   * lapse is taken over, and the spawn finished here.
   */
  private async spawn(entry: Entry, reason: StartReason): Promise<void> {
    entry.spawnBegan = Date.now();
    entry.status.progress = [];
    entry.status.failure = null;
    entry.exitedDuringSpawn = null;
    entry.stopRequested = false;
    this.setState(entry, 'starting');
    const { user } = entry.spec;
    try {
      for (;;) {
        const lease = await this.coordinator.acquire(user);
        if (lease !== null) {
          if ((await this.spawnHolding(entry, lease, reason)) === 'done') return;
          continue;
        }
        const outcome = await this.coordinator.follow(user, (event) => this.publish(entry, event), () => entry.stopRequested);
        if (outcome.kind === 'abandoned') return;
        if (outcome.kind === 'failed') return await this.fail(entry, new FailureError(outcome.failure), { record: false });
        if (outcome.kind === 'ready') return await this.servesFollowed(entry);
      }
    } catch (err) {
      await this.fail(entry, err);
    }
  }

  /** Another gateway made the berth ready: this one reaches it as that one does. */
  private async servesFollowed(entry: Entry): Promise<void> {
    const { runtime } = this.options;
    const [port, observed] = await Promise.all([runtime.mainPort(entry.spec.name), runtime.inspect(entry.spec.name)]);
    entry.status.runtimeId = observed.id;
    entry.status.image = observed.image;
    this.markReady(entry, port);
  }

  /** The spawn proper, as the lease's holder: 'superseded' when the lease was lost to another gateway before anything was made. */
  private async spawnHolding(entry: Entry, lease: SpawnLease, reason: StartReason): Promise<'done' | 'superseded'> {
    const { config, runtime, logger, metrics } = this.options;
    entry.lease = lease;
    const release = await this.semaphore.acquire((position) =>
      this.emit(entry, 'queued', `Waiting for a free start slot (${position} ahead of you)`),
    );
    try {
      if (!(await lease.held())) return 'superseded';
      const deadline = Date.now() + config.spawn.timeoutSeconds * 1000;
      this.emit(entry, 'starting', 'Starting your environment');
      const { launch } = entry;
      entry.launch = {};
      const plan = await beforeDeadline(
        this.planner.plan(entry.status.user, reason, launch, deadline, (message) => this.emit(entry, 'starting', message)),
        deadline,
        `its configuration was not settled after ${config.spawn.timeoutSeconds} s`,
      );
      const { spec } = plan;
      entry.spec = spec;
      entry.status.profile = plan.selection;
      const observed = await beforeDeadline(
        runtime.ensure(spec, (step, message) => this.emit(entry, step, message), lease.generation),
        deadline,
        `it was not running after ${config.spawn.timeoutSeconds} s`,
      );
      entry.status.runtimeId = observed.id;
      entry.status.image = observed.image;
      // A berth something else runs (attach) is ready once found: whether its app listens is not Berth's to wait for.
      const found = runtime.capabilities?.creates === false;
      if (!found) this.emit(entry, 'waiting', `Waiting for your app to answer on port ${spec.port}`);
      // A command that fails at once can be gone before its exit event arrives (on Podman, before the
      // engine even answers the start); its exit code and output then say more than "not running".
      const mainPort = await runtime.mainPort(spec.name).catch(async (err: unknown) => {
        const now = await runtime.inspect(spec.name).catch(() => null);
        if (now?.state === 'exited') throw await this.exitFailure(entry, { exitCode: now.exitCode }, 'before it was ready');
        throw err;
      });
      const answered =
        found ||
        (await waitUntilReady(() => runtime.connect(spec.name, mainPort), {
          readyPath: config.environment.readyPath,
          deadline,
          abandoned: () => entry.exitedDuringSpawn !== null || entry.stopRequested,
          onAttempt: () => undefined,
        }));
      if (!answered && entry.stopRequested) return 'done';
      if (!answered) {
        const exited = entry.exitedDuringSpawn as ExitFacts | null;
        if (exited) throw await this.exitFailure(entry, exited, 'before it was ready');
        await runtime.stop(spec.name, { remove: false, graceSeconds: config.spawn.stopGraceSeconds }).catch(() => undefined);
        throw new BerthError({
          code: 'spawn_timeout',
          userMessage: `Your environment did not answer on port ${spec.port} within ${config.spawn.timeoutSeconds} s. Check that it listens on $PORT, then retry.`,
        });
      }
      const seconds = this.markReady(entry, mainPort);
      metrics.spawnDuration.observe({ outcome: 'ready' }, seconds);
      logger.info({ user: spec.user, seconds, id: observed.id }, 'berth ready');
      this.record(spec.user, 'ready', `ready in ${seconds.toFixed(1)} s`);
      this.audit(spec.user, 'spawn.started', 'ok', { seconds: Math.round(seconds * 10) / 10, runtimeId: observed.id, image: observed.image });
      void this.notifications.publish({ user: spec.user, state: 'ready' });
      return 'done';
    } catch (err) {
      if (err instanceof BerthError && err.code === 'spawn_superseded') return 'superseded';
      await this.fail(entry, err);
      return 'done';
    } finally {
      release();
      entry.lease = null;
      const { state, progress, failure } = entry.status;
      await lease.end(state === 'ready' || state === 'failed' ? state : null, progress, failure);
    }
  }

  /** Ready to proxy; returns the seconds the spawn took. */
  private markReady(entry: Entry, port: number): number {
    entry.target = { name: entry.spec.name, port };
    const now = Date.now();
    entry.status.startedAt = now;
    entry.status.lastActivity = now;
    this.setState(entry, 'ready');
    const seconds = (now - entry.spawnBegan) / 1000;
    this.emit(entry, 'ready', `Ready in ${seconds.toFixed(1)} s`);
    return seconds;
  }

  /** `record: false` for a failure another gateway's spawn met, which that gateway records. */
  private async fail(entry: Entry, err: unknown, { record } = { record: true }): Promise<void> {
    const error = err instanceof FailureError ? err : asBerthError(err, 'spawn_failed');
    const failure: Failure =
      error instanceof FailureError
        ? error.failure
        : { reason: error.userMessage, logTail: await this.logTail(entry), at: Date.now() };
    entry.target = null;
    entry.status.failure = failure;
    this.setState(entry, 'failed');
    this.emit(entry, 'failed', failure.reason, failure);
    this.options.metrics.spawnDuration.observe({ outcome: 'failed' }, (Date.now() - entry.spawnBegan) / 1000);
    this.options.logger.warn(
      { user: entry.spec.user, code: error instanceof FailureError ? 'berth_exited' : error.code, exitCode: failure.exitCode, detail: error instanceof FailureError ? undefined : error.logMessage },
      'berth failed',
    );
    if (record) {
      this.record(entry.spec.user, 'failed', failure.reason);
      this.audit(entry.spec.user, 'spawn.failed', 'failed', { reason: failure.reason, exitCode: failure.exitCode ?? null });
      void this.notifications.publish({ user: entry.spec.user, state: 'failed', reason: failure.reason });
    }
  }

  private async pauseNow(entry: Entry): Promise<boolean> {
    const { user, name } = entry.spec;
    try {
      await this.options.runtime.pause?.(name);
      this.options.logger.info({ user }, 'berth paused while idle');
      this.record(user, 'paused', 'idle');
      // Again once frozen: a gateway that resumed it while the engine was still pausing it takes it for paused again, so its next request thaws it.
      void this.notifications.publish({ user, state: 'paused' });
      return true;
    } catch (err) {
      this.setState(entry, 'ready');
      void this.notifications.publish({ user, state: 'ready' });
      if (err instanceof BerthError && err.code === 'pause_unsupported') {
        this.pauseRefused = err.userMessage;
        this.options.logger.warn({ reason: err.userMessage }, 'idle.pauseAfterSeconds is ignored: this engine cannot pause berths');
        return false;
      }
      this.options.logger.warn({ err, user }, 'could not pause the idle berth; it keeps running and is stopped when idle.stopAfterSeconds is reached');
      return false;
    }
  }

  /** Thaws a paused berth for the use that asked; one that will not thaw (gone meanwhile) is started afresh. */
  private async resumeNow(entry: Entry, reason: StartReason): Promise<void> {
    const { user, name } = entry.spec;
    const began = Date.now();
    try {
      await this.options.runtime.resume?.(name);
    } catch (err) {
      this.options.logger.warn({ err, user }, 'could not resume the paused berth; starting it again');
      return this.spawn(entry, reason);
    }
    entry.status.lastActivity = Date.now();
    this.dirtyActivity.add(user);
    this.setState(entry, 'ready');
    void this.notifications.publish({ user, state: 'ready' });
    this.options.logger.info({ user, ms: Date.now() - began }, 'berth resumed');
    this.record(user, 'resumed', `resumed in ${Date.now() - began} ms`);
  }

  private async stopNow(entry: Entry, why: string, remove: boolean): Promise<void> {
    // Thawed first, so its processes get the stop signal and their grace time on every engine.
    if (entry.status.state === 'paused') await this.options.runtime.resume?.(entry.spec.name).catch(() => undefined);
    this.setState(entry, 'stopping');
    entry.target = null;
    try {
      // Sent before the runtime stops it: the other gateways, who see it end, then know it was asked to.
      await this.notifications.publish({ user: entry.spec.user, state: 'stopping' });
      await this.options.runtime.stop(entry.spec.name, { remove, graceSeconds: this.options.config.spawn.stopGraceSeconds });
    } finally {
      this.setState(entry, 'stopped');
      entry.status.failure = null;
      this.emit(entry, 'stopped', `Stopped: ${why}`);
      this.options.logger.info({ user: entry.spec.user, why, removed: remove }, 'berth stopped');
      this.record(entry.spec.user, 'stopped', why);
      this.audit(entry.spec.user, why === 'idle' ? 'spawn.culled' : 'spawn.stopped', 'ok', { why, removed: remove });
      void this.notifications.publish({ user: entry.spec.user, state: 'stopped', reason: why });
      this.notifyStopped(entry.spec.user, why);
    }
  }

  private handleExit(exit: BerthExit): void {
    const { name } = exit;
    const user = this.byName.get(name);
    const entry = user === undefined ? undefined : this.entries.get(user);
    if (!entry) return;
    if (entry.status.state === 'starting') {
      entry.exitedDuringSpawn = exit;
      return;
    }
    if (entry.status.state !== 'ready' && entry.status.state !== 'paused') return;
    this.runTransition(entry, async () => {
      await this.fail(entry, await this.exitFailure(entry, exit, 'while running'));
      this.notifyStopped(entry.spec.user, `it died: ${describeExit(exit)}`);
    });
  }

  /** How the berth ended, in the runtime's words where it has them (OOMKilled), with its last output. */
  private async exitFailure(entry: Entry, exit: ExitFacts, when: string): Promise<FailureError> {
    return new FailureError({
      reason: `Your environment exited ${when} (${describeExit(exit)}). Its last output is below; open the page or connect again to restart it.`,
      exitCode: exit.exitCode,
      logTail: await this.logTail(entry),
      at: Date.now(),
    });
  }

  private async logTail(entry: Entry): Promise<string[]> {
    return this.options.runtime.logs(entry.spec.name, LOG_TAIL_LINES).catch(() => []);
  }

  private notifyStopped(user: string, why: string): void {
    for (const listener of this.stoppedListeners) listener(user, why);
  }

  private record(user: string, kind: string, message: string): void {
    if (this.pendingEvents.length === 0) setImmediate(() => void this.flushEvents());
    this.pendingEvents.push({ user, at: Date.now(), kind, message });
  }

  /** The spawner's events are the gateway's own doing: who asked for a stop or start is in the request's event (admin.action). */
  private audit(user: string, kind: AuditKind, outcome: AuditOutcome, detail: AuditDetail): void {
    this.options.audit?.record({ kind, actor: null, via: 'gateway', source: null, target: user, outcome, detail });
  }

  private async flushEvents(): Promise<void> {
    const batch = this.pendingEvents;
    this.pendingEvents = [];
    await this.options.store.addEvents(batch).catch((err) => this.options.logger.warn({ err, events: batch.length }, 'could not record berth events'));
  }

  private async flushActivity(): Promise<void> {
    // A berth held open here (an SSH session) is in use now, as the culler on another gateway must learn.
    const now = Date.now();
    for (const [user, entry] of this.entries) {
      if (entry.holds > 0) {
        entry.status.lastActivity = now;
        this.dirtyActivity.add(user);
      }
    }
    if (this.dirtyActivity.size === 0) return;
    const batch = new Map<string, number>();
    for (const user of this.dirtyActivity) {
      const at = this.entries.get(user)?.status.lastActivity;
      if (at) batch.set(user, at);
    }
    this.dirtyActivity.clear();
    await this.options.store.saveActivity(batch).catch((err) => {
      // Kept for the next flush: the store away for a while loses no clock.
      for (const user of batch.keys()) this.dirtyActivity.add(user);
      this.options.logger.warn({ err }, 'could not save activity; will retry');
    });
  }
}

function notRunning(): BerthError {
  return new BerthError({ code: 'berth_stopped', userMessage: 'Your environment is not running; start it first.' });
}

/** A failure whose text and log lines are already composed for the person. */
class FailureError extends Error {
  constructor(readonly failure: Failure) {
    super(failure.reason);
  }
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms === Infinity) return promise.then(() => true);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function beforeDeadline<T>(promise: Promise<T>, deadline: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BerthError({ code: 'spawn_timeout', userMessage: `Your environment could not be started: ${what}. Retry, or ask the operator to check the runtime.` })),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

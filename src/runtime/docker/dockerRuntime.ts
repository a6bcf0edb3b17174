import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { BerthError } from '../../core/errors.js';
import { signalOfExitCode } from '../../core/exit.js';
import { cidrMatcher } from '../../core/net.js';
import type { Logger } from '../../log/logger.js';
import type { BerthExit, BerthSpec, ExecOptions, ExecProcess, ListeningPort, Observed, Runtime, RuntimeProgress, StopOptions } from '../types.js';
import { ContainerAccess, noAddress, notRunning } from './containerAccess.js';
import { createOptions, type Reach } from './createOptions.js';
import { DieEvents, MANAGED_DEATHS, type DieEvent } from './dieEvents.js';
import { connectEngine, engineAddress, pingEngine, type DockerConfig, type EngineAddress } from './engine.js';
import { engineFailure, engineMessage, engineStatus, ignoreStatus, isNameInUse, isUnreachable, unlessMissing } from './engineErrors.js';
import { writeHomeFiles } from './homeFiles.js';
import { ensureImage } from './image.js';
import { hostAddressMatcher } from './hostAddresses.js';
import { berthNetworkName, containerName, homeVolumeName, LABEL } from './names.js';
import { prepareBerthNetwork, type BerthNetwork } from './network.js';
import { refuseIfSuperseded } from '../superseded.js';
import { absent, engineTime, observe } from './observed.js';
import { IsolationKeeper } from './isolationKeeper.js';
import { ensureOwnNetwork, isolatesNow, removeOrphanNetworks, removeOwnNetwork, type OwnNetworkContext } from './ownNetworks.js';
import { isRootless, mainPortOf, resolveReach } from './reach.js';
import { subnetPool, type SubnetPool } from './subnetPool.js';

export interface DockerRuntimeOptions {
  docker: DockerConfig;
  /** Written on every container as berth.instance: which gateway made it. */
  instanceId: string;
  /** For re-creating a running berth whose spec changed. */
  stopGraceSeconds: number;
  logger: Logger;
  /** Where DOCKER_HOST and friends are read; the process environment by default. */
  env?: NodeJS.ProcessEnv;
}

/** How long a removed container's requested stop is remembered, for its die event arriving late. */
const LATE_EVENT_MS = 60_000;
/** How long a create that lost a race waits for the winner's container to show: 40 × 50 ms. */
const NAME_CLASH_TRIES = 40;
const NAME_CLASH_WAIT_MS = 50;
/** Starts of a berth on Podman that may find its network's isolation forgotten (./ownNetworks.ts) before giving up. */
const ISOLATED_START_TRIES = 3;

/**
 * Berths as containers on a Docker (or Podman) engine. Nothing about the
 * engine connection is cached that could go stale: every call dials the
 * socket afresh, so the runtime recovers by itself when the engine returns.
 * What it remembers (requested stops, running containers, login shells) is
 * keyed by container id and only refines what the engine reports.
 */
export class DockerRuntime implements Runtime {
  readonly kind = 'docker';
  private readonly config: DockerConfig;
  private readonly address: EngineAddress;
  private readonly docker: Docker;
  /** Containers stopped through this runtime: their end is no crash. */
  private readonly stoppedOnRequest = new Set<string>();
  /** Containers believed running, with their engine start time, to spot exits missed while the engine was away. */
  private readonly running = new Map<string, { name: string; startedAt: number }>();
  private readonly exitListeners = new Set<(exit: BerthExit) => void>();
  private events: DieEvents | null = null;
  private reach: Promise<Reach> | null = null;
  private networkReady: Promise<void> | null = null;
  /** How berths are kept apart here, as last read from the engine; null until it answered. */
  private berthNetwork: BerthNetwork | null = null;
  private readonly pool: SubnetPool;
  private rootless: Promise<boolean> | null = null;
  /** Berths' own networks being made, by berth name. */
  private readonly ownNetworks = new Map<string, ReturnType<typeof ensureOwnNetwork>>();
  /** Whether berth networks left without their containers were looked for: once, when the engine first answers. */
  private sweptOrphans = false;
  /** Where berths have networks of their own: puts Podman's isolation rule back after a berth stops. */
  private keeper: IsolationKeeper | null = null;
  /** Connect, listening, exec and logs, on the container find() names. */
  private readonly access: ContainerAccess;
  /** Matches the berth network's subnets but the host's own addresses on it, as last read from the engine; nothing before that. */
  private inBerthNetwork: (address: string | undefined) => boolean = () => false;
  /** Whether the operator was told that berths can reach each other here: once, at the first berth it concerns. */
  private warnedUnisolated = false;

  constructor(private readonly options: DockerRuntimeOptions) {
    this.config = options.docker;
    this.address = engineAddress(options.docker, options.env);
    this.docker = connectEngine(this.address);
    this.pool = subnetPool(options.docker.subnetPool);
    this.access = new ContainerAccess({
      docker: this.docker,
      address: this.address,
      enterNamespace: options.docker.enterNamespace,
      networkOf: (name) => this.networkOf(name),
      logger: options.logger,
      find: (name) => this.find(name),
      workingDir: (name, info) => info.Mounts.find((m) => m.Name === homeVolumeName(this.config.namePrefix, name))?.Destination,
    });
  }

  /** e.g. "unix:///var/run/docker.sock", for messages. */
  private get engine(): string {
    return this.address.description;
  }

  health(): Promise<void> {
    return pingEngine(this.docker, this.engine);
  }


  async prepare(): Promise<void> {
    try {
      await this.ensureNetwork();
    } catch (err) {
      if (isUnreachable(err)) {
        this.options.logger.warn({ engine: this.engine }, 'docker: the engine does not answer yet; the berth network is checked before the first berth starts');
        return;
      }
      const failure = engineFailure(this.engine, 'prepare the berth network', err);
      // At start the reader is the operator: give them the fix, not the user's text.
      throw new BerthError({ code: failure.code, userMessage: failure.logMessage, cause: err });
    }
  }

  isBerthAddress(address: string | undefined): boolean {
    return this.inBerthNetwork(address);
  }

  async ensure(spec: BerthSpec, progress: RuntimeProgress, generation?: number): Promise<Observed> {
    try {
      // Before any berth runs, and again on every start: what prepare() could
      // not read while the engine was away is learnt here.
      await this.ensureNetwork();
      const reach = await this.reachMode();
      let info = await this.find(spec.name);
      if (info) refuseIfSuperseded(info.Config.Labels, spec.name, generation);
      if (info && !this.fits(info, spec, reach)) {
        await this.discard(info);
        info = null;
      }
      // A berth the gateway lost track of while paused (a stop that failed halfway) is thawed, not left frozen.
      if (info?.State.Paused) await this.docker.getContainer(info.Id).unpause();
      if (info?.State.Running) return this.remember(spec.name, info.State.Paused ? await this.docker.getContainer(info.Id).inspect() : info);
      const id = info?.Id ?? (await this.create(spec, reach, progress, generation));
      if (spec.files?.length) await writeHomeFiles(this.docker.getContainer(id), spec.name, spec.homePath, spec.files);
      progress('starting', `starting container ${containerName(this.config.namePrefix, spec.name)}`);
      await this.start(id, spec);
      return this.remember(spec.name, await this.docker.getContainer(id).inspect());
    } catch (err) {
      if (err instanceof BerthError || isUnreachable(err)) throw engineFailure(this.engine, 'start the berth', err);
      const detail = engineMessage(err).trim();
      throw new BerthError({
        code: 'spawn_failed',
        userMessage: `Your environment could not be started: ${detail}`,
        logMessage: `docker could not start berth ${spec.name}: ${detail}`,
        cause: err,
      });
    }
  }

  async inspect(name: string): Promise<Observed> {
    const info = await this.call('inspect the berth', () => this.find(name));
    return info ? observe(name, info, this.stoppedOnRequest.has(info.Id)) : absent(name);
  }

  async stop(name: string, options: StopOptions): Promise<void> {
    this.access.forget(name);
    await this.call('stop the berth', async () => {
      const info = await this.find(name);
      if (info) await this.halt(info, options.graceSeconds);
      if (!options.remove) return;
      if (info) await this.remove(info.Id);
      await this.removeOwnNetwork(name);
    });
  }

  async pause(name: string): Promise<void> {
    const refusal = await this.call('pause the berth', () => this.pauseRefusal());
    if (refusal) throw new BerthError({ code: 'pause_unsupported', userMessage: refusal });
    await this.call('pause the berth', async () => {
      const info = await this.access.runningContainer(name);
      if (!info.State.Paused) await this.docker.getContainer(info.Id).pause();
    });
  }

  prePull(image: string, progress: (message: string) => void): Promise<'present' | 'pulled'> {
    return this.call('pull the image', () => ensureImage(this.docker, image, (_step, message) => progress(message)));
  }

  async resume(name: string): Promise<void> {
    await this.call('resume the berth', async () => {
      const info = await this.access.runningContainer(name);
      if (info.State.Paused) await this.docker.getContainer(info.Id).unpause();
    });
  }

  async list(): Promise<Observed[]> {
    return this.call('list berths', async () => {
      const summaries = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL.managed}=true`] } });
      const ours = summaries.filter((s) => {
        const name = s.Labels[LABEL.name];
        return name !== undefined && s.Names.includes(`/${containerName(this.config.namePrefix, name)}`);
      });
      const infos = await Promise.all(ours.map((s) => this.inspectId(s.Id)));
      return infos.flatMap((info) => {
        if (!info) return [];
        const name = info.Config.Labels[LABEL.name] as string;
        return info.State.Running ? [this.remember(name, info)] : [observe(name, info, this.stoppedOnRequest.has(info.Id))];
      });
    });
  }

  connect(name: string, port: number): Promise<Duplex> {
    return this.access.connect(name, port);
  }

  listening(name: string): Promise<ListeningPort[]> {
    return this.access.listening(name);
  }

  /** From the container's label, also for one that has just exited: its exit, not "not running", is then what the caller learns. */
  async mainPort(name: string): Promise<number> {
    const info = await this.call('inspect the berth', () => this.find(name));
    if (!info) throw notRunning(name);
    const port = mainPortOf(info);
    if (port === null) throw noAddress(name, this.networkOf(name));
    return port;
  }

  logs(name: string, lines: number): Promise<string[]> {
    return this.access.logs(name, lines);
  }

  exec(name: string, options: ExecOptions): Promise<ExecProcess> {
    return this.access.exec(name, options);
  }

  onExit(listener: (exit: BerthExit) => void): void {
    this.exitListeners.add(listener);
    this.events ??= new DieEvents(
      this.docker,
      this.options.logger,
      MANAGED_DEATHS,
      (event) => this.died(event),
      () => void this.catchUp(),
    );
  }

  async close(): Promise<void> {
    this.events?.close();
    this.events = null;
    this.access.close();
    await this.keeper?.close();
    this.keeper = null;
  }

  /** The container of a berth, or null; a container of that name that Berth did not make is an error, never touched. */
  private async find(name: string): Promise<Docker.ContainerInspectInfo | null> {
    const containerNameText = containerName(this.config.namePrefix, name);
    const info = await this.inspectId(containerNameText);
    if (!info) return null;
    if (info.Config.Labels[LABEL.managed] !== 'true' || info.Config.Labels[LABEL.name] !== name) {
      throw new BerthError({
        code: 'internal',
        userMessage: 'Your environment cannot be started because of a name clash on the container engine; tell the operator.',
        logMessage: `a container named ${containerNameText} exists that Berth did not create; remove or rename it, or change runtime.docker.namePrefix`,
      });
    }
    return info;
  }

  private inspectId(idOrName: string): Promise<Docker.ContainerInspectInfo | null> {
    return unlessMissing(this.docker.getContainer(idOrName).inspect());
  }

  /**
   * The same spec, made for the same reach mode on the same network. The
   * network is read from the container's networks: Podman reports
   * NetworkMode "bridge" whatever network the container was created on.
   */
  private fits(info: Docker.ContainerInspectInfo, spec: BerthSpec, reach: Reach): boolean {
    const labels = info.Config.Labels;
    return labels[LABEL.spec] === spec.hash && labels[LABEL.reach] === reach && this.networkOf(spec.name) in (info.NetworkSettings.Networks ?? {});
  }

  /** The network a berth's container is on: its own where berths get one, else runtime.docker.network. */
  private networkOf(name: string): string {
    return this.berthNetwork?.kind === 'own' ? berthNetworkName(this.config.namePrefix, name) : this.config.network;
  }

  private async create(spec: BerthSpec, reach: Reach, progress: RuntimeProgress, generation: number | undefined): Promise<string> {
    const { namePrefix: prefix, allowedMounts } = this.config;
    // Built first: a mount that is not allowed fails before any pull.
    const request = createOptions(spec, { prefix, network: this.networkOf(spec.name), reach, allowedMounts, instanceId: this.options.instanceId, generation });
    await ensureImage(this.docker, request.Image as string, progress);
    progress('creating', `creating container ${request.name}`);
    await this.ensureHome(spec);
    if (this.berthNetwork?.kind === 'own') await this.ensureOwnNetwork(spec);
    let id: string;
    try {
      id = (await this.docker.createContainer(request)).id;
    } catch (err) {
      if (!isNameInUse(err)) throw err;
      // Created meanwhile by another call; use that one. The engine holds the
      // name a moment before the container can be inspected.
      for (let i = 0; i < NAME_CLASH_TRIES; i++) {
        const existing = await this.find(spec.name);
        if (existing) {
          refuseIfSuperseded(existing.Config.Labels, spec.name, generation);
          return existing.Id;
        }
        await new Promise((resolve) => setTimeout(resolve, NAME_CLASH_WAIT_MS));
      }
      throw err;
    }
    await this.refuseDroppedLimits(id, request);
    return id;
  }

  /**
   * Rootless Podman on a cgroup v1 host accepts resource limits and drops
   * them (with only a warning in the create answer); a berth never runs
   * without the limits the operator set.
   */
  private async refuseDroppedLimits(id: string, request: Docker.ContainerCreateOptions): Promise<void> {
    const asked = request.HostConfig ?? {};
    if (!asked.Memory && !asked.NanoCpus && !asked.PidsLimit) return;
    const made = (await this.docker.getContainer(id).inspect()).HostConfig;
    const dropped = [
      asked.Memory && !made.Memory ? 'memory' : null,
      asked.NanoCpus && !made.NanoCpus ? 'cpus' : null,
      asked.PidsLimit && !made.PidsLimit ? 'pids' : null,
    ].filter((key) => key !== null);
    if (dropped.length === 0) return;
    await this.remove(id);
    throw new BerthError({
      code: 'config_invalid',
      userMessage: 'Your environment cannot be started: the container engine ignores its resource limits; tell the operator.',
      logMessage:
        `the engine at ${this.engine} made the container without environment.limits.${dropped.join(', ')} (rootless Podman cannot set limits on a cgroup v1 host): ` +
        'run Podman rootful, or rootless on cgroup v2 with the controllers delegated to the user, or remove environment.limits',
    });
  }

  /**
   * Checked before every start, so a network changed under a running
   * gateway is caught too. Single-flight: the engine's duplicate check is
   * best effort, and berths created at once would otherwise make several
   * networks of one name.
   */
  private ensureNetwork(): Promise<void> {
    this.networkReady ??= Promise.all([prepareBerthNetwork(this.docker, this.config.network, this.options.logger), this.engineRootless()])
      .then(async ([network, rootless]) => {
        this.berthNetwork = network;
        this.inBerthNetwork = this.berthAddressMatcher(network, rootless);
        if (network.kind === 'own' && !this.sweptOrphans) {
          this.sweptOrphans = true;
          await removeOrphanNetworks(this.docker, this.config.namePrefix, this.options.logger).catch((err: unknown) => {
            this.options.logger.warn({ err: engineMessage(err) }, 'docker: could not look for berth networks left without their containers');
          });
          // A berth that stopped while no gateway ran left the rule out too. Waited for: the
          // keeper's pods are made now, before any berth starts: on rootless Podman a berth
          // started while the first keeper pod started failed ("route ip+net: no such
          // network interface"), both setting up the user's network namespace at once.
          await this.restoreIsolation();
        }
      })
      .finally(() => {
        this.networkReady = null;
      });
    return this.networkReady;
  }

  /**
   * Which peer addresses are berths': their network's (the host's own end of
   * it excepted), and on a rootless engine the host's own addresses too,
   * which is where its berths' connections come from (./hostAddresses.ts).
   */
  private berthAddressMatcher(network: BerthNetwork, rootless: boolean): (address: string | undefined) => boolean {
    let inNetwork: (address: string | undefined) => boolean;
    if (network.kind === 'own') {
      inNetwork = (address) => this.pool.isBerthAddress(address);
    } else {
      const inSubnets = cidrMatcher(network.subnets);
      const isHost = cidrMatcher(network.gateways);
      inNetwork = (address) => inSubnets(address) && !isHost(address);
    }
    if (!rootless) return inNetwork;
    const isHostAddress = hostAddressMatcher();
    return (address) => inNetwork(address) || isHostAddress(address);
  }

  /**
   * Starts the container. Where berths have networks of their own, with the
   * network's `isolate` option loaded before, and checked again after: a
   * Docker API client listing networks meanwhile makes Podman forget it
   * (./ownNetworks.ts), and the container would then start without its
   * isolation rules; it is then stopped and started again.
   */
  private async start(id: string, spec: BerthSpec): Promise<void> {
    const container = this.docker.getContainer(id);
    for (let attempt = 1; ; attempt++) {
      const isolating = this.berthNetwork?.kind === 'own' && (await this.ensureOwnNetwork(spec));
      this.stoppedOnRequest.delete(id);
      await container.start().catch((err: unknown) => {
        if (engineStatus(err) !== 304) throw err;
      });
      const network = berthNetworkName(this.config.namePrefix, spec.name);
      if (!isolating || (await isolatesNow(this.docker, network))) return;
      this.stoppedOnRequest.add(id);
      await container.stop({ t: 0 }).catch(() => undefined);
      if (attempt === ISOLATED_START_TRIES) {
        void this.restoreIsolation();
        throw new BerthError({
          code: 'runtime_unavailable',
          userMessage: 'Your environment could not be started apart from the others; try again, or tell the operator.',
          logMessage:
            `Podman lost the isolate option of network ${network} ${attempt} times while berth ${spec.name} started (something lists networks through its Docker API all the time): ` +
            'find and stop that client (docker network ls, compose, a dashboard), then try again',
        });
      }
    }
  }

  /** Single-flight per berth (see ensureOwnNetwork); false when the network cannot isolate and the operator accepts that. */
  private async ensureOwnNetwork(spec: BerthSpec): Promise<boolean> {
    let pending = this.ownNetworks.get(spec.name);
    if (!pending) {
      pending = ensureOwnNetwork(this.docker, this.ownNetworkContext(), { name: spec.name, user: spec.user }).finally(() => this.ownNetworks.delete(spec.name));
      this.ownNetworks.set(spec.name, pending);
    }
    const { unisolated } = await pending;
    if (unisolated !== null && !this.warnedUnisolated) {
      this.warnedUnisolated = true;
      this.options.logger.warn(
        { engine: this.engine, reason: unisolated },
        "docker: berths can reach each other's ports, around sign-in and share levels (runtime.docker.allowUnisolatedBerths is true); run Podman 4 or later with netavark, or Docker, to keep them apart",
      );
    }
    return unisolated === null;
  }

  private ownNetworkContext(): OwnNetworkContext {
    const internal = this.berthNetwork?.kind === 'own' && this.berthNetwork.internal;
    return { prefix: this.config.namePrefix, pool: this.pool, internal, allowUnisolated: this.config.allowUnisolatedBerths };
  }

  /** After a berth's container stopped, where berths have networks of their own (./isolationKeeper.ts); never rejects. */
  private restoreIsolation(): Promise<void> {
    if (this.berthNetwork?.kind !== 'own') return Promise.resolve();
    this.keeper ??= new IsolationKeeper(this.docker, this.ownNetworkContext(), this.options.logger);
    return this.keeper.restore();
  }

  /** A removed berth's own network goes with it; one that cannot be removed is left for the sweep at the next start, and said. */
  private async removeOwnNetwork(name: string): Promise<void> {
    if (this.berthNetwork === null) await this.ensureNetwork();
    if (this.berthNetwork?.kind !== 'own') return;
    const network = berthNetworkName(this.config.namePrefix, name);
    await removeOwnNetwork(this.docker, network).catch((err: unknown) => {
      this.options.logger.warn({ network, err: engineMessage(err) }, 'docker: could not remove the network of a removed berth; it is removed at the next start');
    });
  }

  /**
   * Creating a volume that exists returns it, so this is safe to repeat;
   * rootless Podman 4.3 instead refuses the second of two creates at once
   * ("volume already exists"), which is the same outcome.
   */
  private async ensureHome(spec: BerthSpec): Promise<void> {
    await this.docker
      .createVolume({
        Name: homeVolumeName(this.config.namePrefix, spec.name),
        Labels: { [LABEL.managed]: 'true', [LABEL.user]: spec.user, [LABEL.name]: spec.name },
      })
      .catch((err: unknown) => {
        if (!/volume already exists/.test(engineMessage(err))) throw err;
      });
  }

  /** Stops (or re-creates) a container, telling onExit listeners nothing: the gateway asked for it. */
  private async halt(info: Docker.ContainerInspectInfo, graceSeconds: number): Promise<void> {
    this.stoppedOnRequest.add(info.Id);
    this.running.delete(info.Id);
    if (!info.State.Running) return;
    await this.docker
      .getContainer(info.Id)
      .stop({ t: Math.max(0, Math.round(graceSeconds)) })
      .catch(ignoreStatus(304, 404));
    // Not waited for: a stop is not held up by the second or so it takes.
    void this.restoreIsolation();
  }

  /** Removes the container, never its home volume. */
  private async remove(id: string): Promise<void> {
    this.access.forgetContainer(id);
    await this.docker
      .getContainer(id)
      .remove({ force: true, v: false })
      .catch(ignoreStatus(404));
    setTimeout(() => this.stoppedOnRequest.delete(id), LATE_EVENT_MS).unref();
  }

  private async discard(info: Docker.ContainerInspectInfo): Promise<void> {
    this.options.logger.info({ container: info.Name.slice(1) }, 'berth spec changed; re-creating its container (the home is kept)');
    await this.halt(info, this.options.stopGraceSeconds);
    await this.remove(info.Id);
  }

  private remember(name: string, info: Docker.ContainerInspectInfo): Observed {
    this.running.set(info.Id, { name, startedAt: engineTime(info.State.StartedAt) ?? 0 });
    return observe(name, info, false);
  }

  private died(event: DieEvent): void {
    if (event.containerName !== containerName(this.config.namePrefix, event.name)) return;
    if (this.stoppedOnRequest.has(event.id)) return;
    const known = this.running.get(event.id);
    // A late event from a run before the one now going.
    if (known && event.at < known.startedAt) return;
    this.running.delete(event.id);
    this.access.forget(event.name);
    // The die event has no OOM flag; the container's state has (one inspect per death, never on a hot path).
    void this.inspectId(event.id)
      .catch(() => null)
      .then((info) => this.report({ name: event.name, exitCode: event.exitCode, signal: signalOfExitCode(event.exitCode), oomKilled: info?.State.OOMKilled === true }));
  }

  /** After the events stream was lost: containers believed running that are not ended unseen. */
  private async catchUp(): Promise<void> {
    for (const [id, known] of [...this.running]) {
      try {
        const info = await this.inspectId(id);
        if (info?.State.Running) {
          this.remember(known.name, info);
          continue;
        }
        if (!this.running.delete(id) || this.stoppedOnRequest.has(id)) continue;
        const exitCode = info ? info.State.ExitCode : null;
        this.report({ name: known.name, exitCode, signal: signalOfExitCode(exitCode), oomKilled: info?.State.OOMKilled === true });
      } catch (err) {
        this.options.logger.warn({ err: engineMessage(err) }, 'docker: could not check berths after the engine came back');
        return;
      }
    }
  }

  private report(exit: BerthExit): void {
    for (const listener of this.exitListeners) listener(exit);
  }

  /** Why this engine cannot freeze containers, or null: a rootless engine needs cgroup v2 (the freezer is not delegated on v1). */
  private async pauseRefusal(): Promise<string | null> {
    if (!(await this.engineRootless())) return null;
    const { CgroupVersion: cgroups } = (await this.docker.info()) as { CgroupVersion?: string };
    if (cgroups !== '1') return null;
    return `the rootless engine at ${this.engine} cannot pause containers on a cgroup v1 host; idle berths are only stopped. Run it rootful, or on a cgroup v2 host, to pause them`;
  }

  private engineRootless(): Promise<boolean> {
    this.rootless ??= isRootless(this.docker).catch((err: unknown) => {
      this.rootless = null;
      throw err;
    });
    return this.rootless;
  }

  private reachMode(): Promise<Reach> {
    this.reach ??= resolveReach(this.config.reach, this.docker, this.address).catch((err: unknown) => {
      this.reach = null;
      throw err;
    });
    return this.reach;
  }

  private call<T>(doing: string, work: () => Promise<T>): Promise<T> {
    return this.access.call(doing, work);
  }
}

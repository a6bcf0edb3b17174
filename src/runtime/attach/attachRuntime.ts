import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import type { Config } from '../../config/schema.js';
import { homeFilesUnsupported } from '../../core/homeFiles.js';
import { signalOfExitCode } from '../../core/exit.js';
import { safeName } from '../../core/safeName.js';
import type { Logger } from '../../log/logger.js';
import type {
  BerthExit,
  BerthKeySource,
  BerthKeyText,
  BerthSpec,
  ExecOptions,
  ExecProcess,
  ListeningPort,
  Observed,
  Runtime,
  RuntimeCapabilities,
  RuntimeProgress,
} from '../types.js';
import { readContainerFile } from '../docker/archive.js';
import { ContainerAccess, notRunning } from '../docker/containerAccess.js';
import { DieEvents } from '../docker/dieEvents.js';
import { engineMessage, unlessMissing } from '../docker/engineErrors.js';
import { connectEngine, engineAddress, pingEngine, type DockerConfig, type EngineAddress } from '../docker/engine.js';
import { absent, observe } from '../docker/observed.js';
import { berthNameOf, candidateOf, isBerth, labelFilter, theOne, type Candidate } from './labels.js';

export type AttachConfig = Config['attach'];

export interface AttachRuntimeOptions {
  /** The engine (socket, tls, enterNamespace) and the network whose address is dialled first. */
  docker: DockerConfig;
  attach: AttachConfig;
  /** environment.port: a container without attach.portLabel serves there. */
  defaultPort: number;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
}

/**
 * Berths are containers something else runs on a Docker (or Podman)
 * engine: a user's is the one running container whose attach.userLabel is
 * their username and which carries attach.requireLabel. Berth never creates,
 * stops or removes them: ensure finds, stop forgets. Everything else (exec,
 * connect through the container's own network namespace, listening ports,
 * logs) is the docker runtime's own code (../docker/containerAccess.ts).
 * Whoever can label a container on the engine owns that user's berth.
 */
export class AttachRuntime implements Runtime {
  readonly kind = 'attach';
  readonly capabilities: RuntimeCapabilities = { creates: false, stops: false };
  private readonly address: EngineAddress;
  private readonly docker: Docker;
  private readonly access: ContainerAccess;
  /** Addresses of attached containers seen so far: requests from them are never believed as coming from a proxy. */
  private readonly containerAddresses = new Set<string>();
  /** Attached containers seen running, by id, with their berth's name: the end of each is told to onExit listeners once. */
  private readonly attached = new Map<string, string>();
  private readonly exitListeners = new Set<(exit: BerthExit) => void>();
  private events: DieEvents | null = null;

  constructor(private readonly options: AttachRuntimeOptions) {
    this.address = engineAddress(options.docker, options.env);
    this.docker = connectEngine(this.address);
    this.access = new ContainerAccess({
      docker: this.docker,
      address: this.address,
      enterNamespace: options.docker.enterNamespace,
      networkOf: () => options.docker.network,
      logger: options.logger,
      find: (name) => this.find(name),
      workingDir: () => undefined,
    });
  }

  health(): Promise<void> {
    return pingEngine(this.docker, this.address.description);
  }

  async prepare(): Promise<void> {
    const { userLabel, requireLabel } = this.options.attach;
    this.options.logger.info({ engine: this.address.description, userLabel, requireLabel }, 'attach: berths are the running containers labeled with the user and the marker; Berth never creates, stops or removes them');
  }

  isBerthAddress(address: string | undefined): boolean {
    return address !== undefined && this.containerAddresses.has(address);
  }

  /** Finds the user's one container; the attach is logged with the container's id and image. */
  async ensure(spec: BerthSpec, progress: RuntimeProgress): Promise<Observed> {
    if (spec.files?.length) throw homeFilesUnsupported(spec.name, this.kind);
    const { userLabel } = this.options.attach;
    progress('starting', `looking for the running container labeled ${userLabel}=${spec.user}`);
    const candidates = await this.access.call('list containers', async () => (await this.candidates()).filter((c) => c.user === spec.user));
    const chosen = theOne(spec.user, candidates, this.options.attach);
    const info = await this.access.call('inspect the berth', () => this.docker.getContainer(chosen.id).inspect());
    if (!info.State.Running) throw notRunning(spec.name);
    this.options.logger.info(
      { user: spec.user, container: chosen.containerName, containerId: info.Id, image: info.Config.Image, imageId: info.Image },
      'attach: berth attached to a running container',
    );
    return this.observed(spec.name, info);
  }

  async inspect(name: string): Promise<Observed> {
    const mine = await this.access.call('list containers', async () => (await this.candidates()).filter((c) => isBerth(c, name) && c.running));
    if (mine.length !== 1) return absent(name);
    const info = await this.access.call('inspect the berth', () => this.docker.getContainer((mine[0] as Candidate).id).inspect());
    return this.observed(name, info);
  }

  /**
   * Nothing to do on the engine: the spawner forgets the berth, whose
   * container keeps running as whoever runs it decides. Its namespace relay
   * is kept too (it ends when idle), so connections in flight, from the
   * spawner's point of view to a berth being forgotten, are not cut.
   */
  async stop(name: string): Promise<void> {
    this.options.logger.debug({ berth: name }, 'attach: berth forgotten; its container keeps running');
  }

  /** Every user with exactly one running container; a user with several is left for ensure to refuse. */
  async list(): Promise<Observed[]> {
    return this.access.call('list berths', async () => {
      const byUser = new Map<string, Candidate[]>();
      for (const candidate of await this.candidates()) {
        if (!candidate.running || candidate.user === null) continue;
        byUser.set(candidate.user, [...(byUser.get(candidate.user) ?? []), candidate]);
      }
      const single = [...byUser.entries()].filter(([, list]) => list.length === 1).map(([user, list]) => ({ user, id: (list[0] as Candidate).id }));
      const found = await Promise.all(single.map(async ({ user, id }) => ({ user, info: await this.docker.getContainer(id).inspect().catch(() => null) })));
      return found.flatMap(({ user, info }) => (info?.State.Running ? [this.observed(safeName(user), info)] : []));
    });
  }

  connect(name: string, port: number): Promise<Duplex> {
    return this.access.connect(name, port);
  }

  listening(name: string): Promise<ListeningPort[]> {
    return this.access.listening(name);
  }

  /** From attach.portLabel on the container, else environment.port. */
  async mainPort(name: string): Promise<number> {
    const info = await this.access.runningContainer(name);
    const port = Number(info.Config.Labels[this.options.attach.portLabel]);
    return Number.isInteger(port) && port > 0 && port <= 65535 ? port : this.options.defaultPort;
  }

  logs(name: string, lines: number): Promise<string[]> {
    return this.access.logs(name, lines);
  }

  exec(name: string, options: ExecOptions): Promise<ExecProcess> {
    return this.access.exec(name, options);
  }

  async authorizedKeys(user: string, source: BerthKeySource): Promise<BerthKeyText[]> {
    const mine = (await this.candidates()).filter((c) => c.user === user && c.running);
    const texts = await Promise.all(mine.map((c) => this.keysOf(c, user, source)));
    return texts.flat();
  }

  /**
   * Attached containers are watched through the engine's events: one that
   * its owner stops or removes is told at once (the spawner then tells its
   * sessions and shows it gone); Berth does nothing to the container. A
   * replacement is found by its labels at the next start.
   */
  onExit(listener: (exit: BerthExit) => void): void {
    this.exitListeners.add(listener);
    const { userLabel, requireLabel } = this.options.attach;
    this.events ??= new DieEvents(
      this.docker,
      this.options.logger,
      {
        labels: [requireLabel, userLabel],
        actions: ['die', 'died', 'destroy', 'remove'],
        nameOf: (attributes) => berthNameOf(attributes[userLabel]),
      },
      (event) => this.ended(event.id, event.containerName, event.action === 'destroy' || event.action === 'remove' ? null : event.exitCode),
      () => void this.catchUp(),
    );
  }

  async close(): Promise<void> {
    this.events?.close();
    this.events = null;
    this.access.close();
  }

  /** An attached container ended (exitCode null: removed): told once, and its way in is forgotten. */
  private ended(id: string, containerName: string, exitCode: number | null): void {
    const name = this.attached.get(id);
    if (name === undefined) return;
    this.attached.delete(id);
    this.access.forget(name);
    const how = exitCode === null ? 'was removed' : 'stopped';
    this.options.logger.info({ berth: name, container: containerName, containerId: id, exitCode }, `attach: the attached container ${how} outside Berth`);
    const exit: BerthExit = { name, exitCode, signal: signalOfExitCode(exitCode), reason: `its container ${containerName} ${how} outside Berth` };
    for (const listener of this.exitListeners) listener(exit);
  }

  /** After the events stream was lost: attached containers that ended unseen are told now. */
  private async catchUp(): Promise<void> {
    for (const [id] of [...this.attached]) {
      try {
        const info = await unlessMissing(this.docker.getContainer(id).inspect());
        if (!info?.State.Running) this.ended(id, info?.Name.replace(/^\//, '') ?? id.slice(0, 12), info ? info.State.ExitCode : null);
      } catch (err) {
        this.options.logger.warn({ err: engineMessage(err) }, 'attach: could not check attached containers after the engine came back');
        return;
      }
    }
  }

  private async keysOf(candidate: Candidate, user: string, source: BerthKeySource): Promise<BerthKeyText[]> {
    const { keysLabel, keyFilesLabel, keyFiles, maxKeyFileBytes } = this.options.attach;
    const info = await this.docker.getContainer(candidate.id).inspect();
    const labels = info.Config.Labels;
    if (source === 'label') {
      const text = labels[keysLabel];
      return text ? [{ origin: `label ${keysLabel} of container ${candidate.containerName}`, text }] : [];
    }
    // {user} only ever becomes one path component, so no username turns a path into another.
    const configured = keyFiles.filter((p) => !p.includes('{user}') || isFileName(user)).map((p) => p.replaceAll('{user}', user));
    const labelled = (labels[keyFilesLabel] ?? '').split(',').map((p) => p.trim()).filter((p) => p.startsWith('/'));
    const container = this.docker.getContainer(candidate.id);
    const found: BerthKeyText[] = [];
    for (const path of [...new Set([...labelled, ...configured])]) {
      const origin = `${path} in container ${candidate.containerName}`;
      const file = await readContainerFile(container, path, maxKeyFileBytes);
      if ('text' in file) found.push({ origin, text: file.text });
      else if (file.problem !== 'no such file') this.options.logger.warn({ user, file: origin, problem: file.problem }, 'attach: authorized_keys file skipped; make it a regular file, writable only by its owner');
    }
    return found;
  }

  private async candidates(): Promise<Candidate[]> {
    const summaries = await this.docker.listContainers({ all: true, filters: labelFilter(this.options.attach) });
    return summaries.map((s) => candidateOf(s, this.options.attach));
  }

  /** The running container of berth `name`; null for none, a refusal for several. */
  private async find(name: string): Promise<Docker.ContainerInspectInfo | null> {
    const mine = (await this.candidates()).filter((c) => isBerth(c, name));
    if (!mine.some((c) => c.running)) return null;
    const chosen = theOne((mine[0] as Candidate).user as string, mine, this.options.attach);
    return this.docker.getContainer(chosen.id).inspect();
  }

  /** As the docker runtime observes its containers, with the user from attach.userLabel; addresses are remembered for isBerthAddress. */
  private observed(name: string, info: Docker.ContainerInspectInfo): Observed {
    if (info.State.Running) this.attached.set(info.Id, name);
    for (const network of Object.values(info.NetworkSettings.Networks ?? {})) {
      if (network.IPAddress) this.containerAddresses.add(network.IPAddress);
      if (network.GlobalIPv6Address) this.containerAddresses.add(network.GlobalIPv6Address);
    }
    const user = info.Config.Labels[this.options.attach.userLabel]?.normalize('NFC') ?? '';
    // The image as the engine ran it: a label on someone else's container says nothing Berth made sure of.
    return { ...observe(name, info, false), user, specHash: null, image: info.Config.Image };
  }
}

function isFileName(text: string): boolean {
  return text !== '.' && text !== '..' && !/[/\\\0]/.test(text);
}

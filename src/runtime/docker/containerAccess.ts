import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { BerthError } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';
import { connectTcp } from '../connectTcp.js';
import { NamespaceReach } from '../namespaceReach.js';
import { listeningByExec, summarise } from '../procNet.js';
import type { ExecOptions, ExecProcess, ListeningPort } from '../types.js';
import type { EngineAddress } from './engine.js';
import { engineFailure, engineMessage, engineStatus } from './engineErrors.js';
import { startExec, type ExecTarget } from './exec.js';
import { logLines } from './frames.js';
import { FALLBACK_SHELL, loginShellFrom } from './loginShell.js';
import { namespaceUnavailable } from './namespaceAccess.js';
import { bridgeAddress } from './reach.js';

export interface ContainerAccessOptions {
  docker: Docker;
  address: EngineAddress;
  enterNamespace: 'auto' | 'off';
  /** The network of berth `name` whose address the bridge path dials first. */
  networkOf(name: string): string;
  logger: Logger;
  /** The container of berth `name`, running or not; null when it has none. Throws a BerthError for one it must not touch. */
  find(name: string): Promise<Docker.ContainerInspectInfo | null>;
  /** Where execs start (sshd starts sessions in the home); undefined: the container's own working directory. */
  workingDir(name: string, info: Docker.ContainerInspectInfo): string | undefined;
}

const SHELL_LOOKUP_TIMEOUT_MS = 3000;
/** The first engine API that sizes a tty exec at creation. */
const CONSOLE_SIZE_API = [1, 42];

/**
 * The ways into a running container that every runtime on a Docker engine
 * shares, whoever made the container (the docker runtime, or something else
 * for attach): TCP connects from inside its network namespace (else at its
 * bridge address), its listening ports, execs with the user's login shell,
 * and its logs. Which container is a berth's is the caller's `find`.
 */
export class ContainerAccess {
  private readonly namespace: NamespaceReach;
  /** Why connections cannot come from inside the containers' network namespaces; null while they do. */
  private namespaceBlocked: string | null;
  private readonly shells = new Map<string, string>();
  private consoleSize: Promise<boolean> | null = null;

  constructor(private readonly options: ContainerAccessOptions) {
    this.namespace = new NamespaceReach(options.logger, (pid) => ['nsenter', `--target=${pid}`, '--net', '--']);
    this.namespaceBlocked =
      options.enterNamespace === 'off' ? 'runtime.docker.enterNamespace is off' : namespaceUnavailable(options.address, process.getuid?.());
  }

  /** e.g. "unix:///var/run/docker.sock", for messages. */
  get engine(): string {
    return this.options.address.description;
  }

  /** Runs one engine call, any failure of it as a BerthError saying what was attempted. */
  async call<T>(doing: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw engineFailure(this.engine, doing, err);
    }
  }

  async runningContainer(name: string): Promise<Docker.ContainerInspectInfo> {
    const info = await this.call('inspect the berth', () => this.options.find(name));
    if (!info?.State.Running) throw notRunning(name);
    return info;
  }

  /**
   * From inside the container's network namespace where the gateway can
   * enter it (../namespaceReach.ts), so a server bound to the berth's own
   * 127.0.0.1 or ::1 is reached like one on 0.0.0.0; else at the bridge
   * address (or published port), which reaches only the latter.
   */
  async connect(name: string, port: number): Promise<Duplex> {
    if (this.namespaceBlocked === null) {
      const pid = (await this.namespace.knownPid(name)) ?? (await this.runningContainer(name)).State.Pid;
      try {
        return await this.namespace.connect(name, pid, port);
      } catch (err) {
        if (err instanceof BerthError) throw err;
        // A container that ended or restarted meanwhile is no reason to give the namespace path up.
        const now = await this.runningContainer(name);
        if (now.State.Pid !== pid) return this.namespace.connect(name, now.State.Pid, port);
        this.blockNamespace(err as Error);
      }
    }
    return this.bridgeConnect(name, port);
  }

  async listening(name: string): Promise<ListeningPort[]> {
    if (this.namespaceBlocked === null) {
      const pid = (await this.namespace.knownPid(name)) ?? (await this.runningContainer(name)).State.Pid;
      const found = await this.namespace.listeners(pid);
      if (found !== null) return summarise(found);
      this.blockNamespace(new Error(`/proc/${pid}/net/tcp cannot be read: the gateway does not see the container's processes (it runs in another PID namespace)`));
    }
    const ports = await listeningByExec((command) => this.exec(name, { command, env: {}, tty: null }));
    const why = this.namespaceBlocked;
    return why === null ? ports : ports.map((p) => (p.loopbackOnly ? { ...p, unreachable: loopbackOnlyMessage(p.port, why) } : p));
  }

  async logs(name: string, lines: number): Promise<string[]> {
    return this.call('read the berth logs', async () => {
      const info = await this.options.find(name);
      if (!info) return [];
      const body = await this.options.docker.getContainer(info.Id).logs({ stdout: true, stderr: true, tail: lines, follow: false });
      return logLines(body).slice(-lines);
    });
  }

  async exec(name: string, options: ExecOptions): Promise<ExecProcess> {
    const info = await this.runningContainer(name);
    return this.call('run a command in the berth', async () => {
      const target: ExecTarget = {
        container: this.options.docker.getContainer(info.Id),
        workingDir: this.options.workingDir(name, info),
        consoleSize: await this.consoleSizeSupported(),
      };
      const command = options.command?.length ? options.command : [await this.loginShell(target, info), '-l'];
      try {
        return await startExec(target, command, options);
      } catch (err) {
        // The container stopped between the check and the exec.
        if (engineStatus(err) === 409) throw notRunning(name);
        throw err;
      }
    });
  }

  /** Ends the berth's namespace relay: it stopped, or its container is gone. */
  forget(name: string): void {
    this.namespace.forget(name);
  }

  /** Drops what was learnt about a container that is removed. */
  forgetContainer(id: string): void {
    this.shells.delete(id);
  }

  close(): void {
    this.namespace.close();
  }

  private async bridgeConnect(name: string, port: number): Promise<Duplex> {
    const info = await this.runningContainer(name);
    const network = this.options.networkOf(name);
    const address = bridgeAddress(info, network, port);
    if (address === null) throw noAddress(name, network);
    try {
      return await connectTcp(name, address.host, address.port);
    } catch (err) {
      const refused = ((err as BerthError).cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED';
      const why = this.namespaceBlocked;
      if (refused && why !== null) {
        const listener = (await this.listening(name).catch(() => [])).find((p) => p.port === port);
        if (listener?.loopbackOnly) {
          throw new BerthError({ code: 'upstream_failed', userMessage: loopbackOnlyMessage(port, why), logMessage: `berth ${name}: port ${port} listens only on loopback and ${why}`, cause: err });
        }
      }
      throw err;
    }
  }

  /** From now on, the bridge; said once, at warn, with the reason. */
  private blockNamespace(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    // A relay slow to start on a loaded machine is no reason to give the namespace path up for good.
    if (code === 'ETIMEDOUT') return;
    this.namespaceBlocked = err.message;
    this.namespace.close();
    this.options.logger.warn(
      { reason: err.message },
      "docker: cannot enter berths' network namespaces; servers bound only to a berth's loopback are unreachable, other ports are reached at the bridge address",
    );
  }

  private consoleSizeSupported(): Promise<boolean> {
    this.consoleSize ??= this.options.docker
      .version()
      .then((version) => {
        const [major = 0, minor = 0] = version.ApiVersion.split('.').map(Number);
        const [wantMajor = 0, wantMinor = 0] = CONSOLE_SIZE_API;
        return major > wantMajor || (major === wantMajor && minor >= wantMinor);
      })
      .catch((err: unknown) => {
        this.consoleSize = null;
        throw err;
      });
    return this.consoleSize;
  }

  /** The user's login shell from the image's /etc/passwd, looked up once per container; /bin/sh when it cannot be read. */
  private async loginShell(target: ExecTarget, info: Docker.ContainerInspectInfo): Promise<string> {
    const cached = this.shells.get(info.Id);
    if (cached) return cached;
    let shell = FALLBACK_SHELL;
    try {
      const exec = await startExec(target, ['cat', '/etc/passwd'], { command: null, env: {}, tty: null });
      exec.stdin.end();
      exec.stderr.resume();
      let passwd = '';
      exec.stdout.on('data', (chunk: Buffer) => (passwd += chunk.toString('utf8')));
      const exit = await Promise.race([exec.exited, new Promise<null>((r) => setTimeout(r, SHELL_LOOKUP_TIMEOUT_MS, null).unref())]);
      if (exit?.code === 0) shell = loginShellFrom(passwd, info.Config.User);
    } catch (err) {
      this.options.logger.debug({ err: engineMessage(err) }, 'docker: could not read /etc/passwd; using /bin/sh');
    }
    this.shells.set(info.Id, shell);
    return shell;
  }
}

export function notRunning(name: string): BerthError {
  return new BerthError({
    code: 'berth_not_ready',
    userMessage: 'Your environment is not running; start it first.',
    logMessage: `berth ${name} has no running container`,
  });
}

export function noAddress(name: string, network: string): BerthError {
  return new BerthError({
    code: 'berth_not_ready',
    userMessage: 'Your environment has no network address yet; try again in a few seconds.',
    logMessage: `container of berth ${name} has no address on network ${network} nor a published port`,
  });
}

/** What a user is told about a server bound only to the berth's loopback where the gateway cannot enter its namespace. */
function loopbackOnlyMessage(port: number, why: string): string {
  return (
    `Port ${port} in your environment listens only on its own loopback (127.0.0.1 or ::1), which this gateway cannot reach: ${why}. ` +
    'Start the server on 0.0.0.0 (all addresses) to reach it, or ask the operator to run the gateway as root on the engine host.'
  );
}

import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { Store, KubeObject } from './store.js';
import { now } from './store.js';

/*
 * The fake's scheduler and kubelet in one: every pod becomes a real Docker
 * container on a bridge network of its own (the pod IP is the container's
 * address there), every PVC a Docker volume. What the real ones would do and
 * say is written back as pod status and Events: Scheduled, Pulled or
 * ErrImagePull/ImagePullBackOff, Created, Started, FailedScheduling with the
 * scheduler's wording (Insufficient memory, node selector, unbound claims),
 * terminated with its exit code or OOMKilled, CrashLoopBackOff for pods that
 * restart. One container per pod: Berth makes no other kind. A secret
 * volume's items mounted by subPath are files the fake writes into a
 * directory of the host per pod, bind-mounted read-only at their paths.
 */

export interface KubeletOptions {
  engine: Docker;
  /** Prefix of every container, volume and network the fake makes (one per test run). */
  prefix: string;
  nodeName: string;
  nodeLabels: Record<string, string>;
  /** Where the files of secret volumes go on the host (bind-mounted into the containers). */
  dir: string;
  /** Bytes of memory the one fake node can give; a test may lower it, as other pods filling the node would. */
  allocatableMemory: number;
}

export interface PodRuntime {
  containerId: string;
  pid: number;
}

type PodSpec = {
  containers: Array<{
    name: string;
    image: string;
    command?: string[];
    args?: string[];
    env?: Array<{ name: string; value?: string }>;
    workingDir?: string;
    resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
    securityContext?: { runAsUser?: number; runAsGroup?: number; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { add?: string[]; drop?: string[] } };
    volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }>;
  }>;
  volumes?: Array<{ name: string; persistentVolumeClaim?: { claimName: string }; emptyDir?: object; secret?: SecretVolume }>;
  nodeSelector?: Record<string, string>;
  restartPolicy?: string;
  hostname?: string;
  shareProcessNamespace?: boolean;
  securityContext?: { runAsUser?: number; runAsGroup?: number };
};

type SecretVolume = { secretName: string; items?: Array<{ key: string; path: string; mode?: number }>; defaultMode?: number };

const SCHEDULE_RETRY_MS = 1000;

export class Kubelet {
  /**
   * Images the registry no longer has, as a test's hand on it: pulling one
   * fails as a real registry's not-found does (ErrImagePull, then
   * ImagePullBackOff), even where the node has it, as for a node that pulls
   * every time (imagePullPolicy Always, the default for :latest).
   */
  readonly unpullable = new Set<string>();
  private readonly running = new Map<string, PodRuntime>();
  private readonly restarts = new Map<string, number>();
  /** The host directory of each pod's secret files, removed with the pod. */
  private readonly secretDirs = new Map<string, string>();
  private events: NodeJS.ReadableStream | null = null;
  private closed = false;

  constructor(
    private readonly store: Store,
    readonly options: KubeletOptions,
  ) {}

  get labelKey(): string {
    return `${this.options.prefix}.pod`;
  }

  get network(): string {
    return `${this.options.prefix}-podnet`;
  }

  async start(): Promise<void> {
    const { engine } = this.options;
    await engine.createNetwork({ Name: this.network, Driver: 'bridge', CheckDuplicate: true }).catch(() => undefined);
    const stream = (await engine.getEvents({ filters: { label: [`${this.options.prefix}.pod`], event: ['die'], type: ['container'] } })) as NodeJS.ReadableStream;
    this.events = stream;
    let buffer = '';
    stream.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const event = JSON.parse(line) as { id: string; Actor: { Attributes: Record<string, string> } };
          void this.died(event.Actor.Attributes[`${this.options.prefix}.pod`] ?? '', event.id);
        } catch {
          // A partial line waits for the rest.
        }
      }
    });
    stream.on('error', () => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    (this.events as unknown as { destroy?: () => void } | null)?.destroy?.();
    await Promise.all([...this.secretDirs.values()].map((dir) => rm(dir, { recursive: true, force: true })));
    this.secretDirs.clear();
  }

  /** The container behind a running pod, for exec, logs and port-forward. */
  runtimeOf(namespace: string, name: string): PodRuntime | undefined {
    return this.running.get(`${namespace}/${name}`);
  }

  /** Runs a command in a pod's container directly, as a test's hand on the node; resolves with its exit code. */
  async execInPod(namespace: string, name: string, command: string[]): Promise<number> {
    const pod = this.running.get(`${namespace}/${name}`);
    if (!pod) throw new Error(`pod ${namespace}/${name} is not running`);
    const exec = await this.options.engine.getContainer(pod.containerId).exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({});
    stream.resume();
    await new Promise((resolve) => stream.on('end', resolve));
    return (await exec.inspect()).ExitCode ?? -1;
  }

  claimVolume(namespace: string, claim: string): string {
    return `${this.options.prefix}-pvc-${namespace}-${claim}`;
  }

  podCreated(pod: KubeObject): void {
    void this.schedule(pod).catch((err: unknown) => this.fail(pod, err));
  }

  podDeleting(pod: KubeObject, graceSeconds: number): void {
    void this.terminate(pod.metadata.namespace as string, pod.metadata.name, graceSeconds);
  }

  /** The pod while it should run: not being deleted, and the fake not shut down (no container may appear after clean-up). */
  private current(namespace: string, name: string): KubeObject | undefined {
    if (this.closed) return undefined;
    const pod = this.store.get('pods', namespace, name);
    return pod && !pod.metadata.deletionTimestamp ? pod : undefined;
  }

  /** Whether `pod` is still the one of its name that should run: a later pod of the same name is another pod. */
  private stillThe(pod: KubeObject): boolean {
    return this.current(pod.metadata.namespace as string, pod.metadata.name)?.metadata.uid === pod.metadata.uid;
  }

  private async schedule(created: KubeObject): Promise<void> {
    if (!this.stillThe(created)) return;
    const namespace = created.metadata.namespace as string;
    const name = created.metadata.name;
    const pod = this.current(namespace, name) as KubeObject;
    const spec = pod.spec as PodSpec;
    const problem = this.unschedulable(namespace, spec);
    if (problem) {
      const reported = (pod.status as { conditions?: Array<{ message?: string }> }).conditions?.[0]?.message === problem;
      if (!reported) {
        this.setStatus(namespace, name, { phase: 'Pending', conditions: [condition('PodScheduled', 'False', 'Unschedulable', problem)] });
        this.event(pod, 'Warning', 'FailedScheduling', problem, 'default-scheduler');
      }
      setTimeout(() => void this.schedule(pod).catch((err: unknown) => this.fail(pod, err)), SCHEDULE_RETRY_MS).unref();
      return;
    }
    this.store.update('pods', namespace, name, (o) => {
      (o.spec as Record<string, unknown>).nodeName = this.options.nodeName;
      o.status = { phase: 'Pending', conditions: [condition('PodScheduled', 'True')], hostIP: '127.0.0.1', startTime: now(), qosClass: qosClass(spec) };
    });
    this.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${namespace}/${name} to ${this.options.nodeName}`, 'default-scheduler');
    await this.startContainer(namespace, name);
  }

  /** The scheduler's reason, in its words, why the one node does not fit; null when it does. */
  private unschedulable(namespace: string, spec: PodSpec): string | null {
    for (const volume of spec.volumes ?? []) {
      if (!volume.persistentVolumeClaim) continue;
      const claim = this.store.get('persistentvolumeclaims', namespace, volume.persistentVolumeClaim.claimName);
      if (!claim) return `0/1 nodes are available: persistentvolumeclaim "${volume.persistentVolumeClaim.claimName}" not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.`;
      if ((claim.status as { phase?: string }).phase !== 'Bound') return '0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.';
    }
    const selector = spec.nodeSelector ?? {};
    if (Object.entries(selector).some(([k, v]) => this.options.nodeLabels[k] !== v)) {
      return "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
    }
    const main = spec.containers[0];
    const memory = main?.resources?.requests?.memory ?? main?.resources?.limits?.memory;
    if (memory && quantity(memory) > this.options.allocatableMemory) {
      return '0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.';
    }
    return null;
  }

  private async startContainer(namespace: string, name: string): Promise<void> {
    const { engine, prefix } = this.options;
    const pod = this.current(namespace, name);
    if (!pod) return;
    const spec = pod.spec as PodSpec;
    const main = spec.containers[0] as PodSpec['containers'][number];
    const image = main.image;
    const present = !this.unpullable.has(image) && (await engine.getImage(image).inspect().then(() => true, () => false));
    if (!present) {
      this.event(pod, 'Normal', 'Pulling', `Pulling image "${image}"`);
      const message = `Failed to pull image "${image}": rpc error: code = NotFound desc = failed to pull and unpack image "${image}": not found`;
      this.event(pod, 'Warning', 'Failed', message);
      this.event(pod, 'Warning', 'Failed', 'Error: ErrImagePull');
      this.setContainerState(namespace, name, main, { waiting: { reason: 'ErrImagePull', message } });
      setTimeout(() => {
        if (!this.stillThe(pod)) return;
        this.event(pod, 'Normal', 'BackOff', `Back-off pulling image "${image}"`);
        this.setContainerState(namespace, name, main, { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } });
      }, 500).unref();
      return;
    }
    this.event(pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
    const mounts: Docker.MountSettings[] = [];
    for (const mount of main.volumeMounts ?? []) {
      const volume = spec.volumes?.find((v) => v.name === mount.name);
      if (volume?.persistentVolumeClaim) {
        const source = this.claimVolume(namespace, volume.persistentVolumeClaim.claimName);
        await engine.createVolume({ Name: source });
        mounts.push({ Type: 'volume', Source: source, Target: mount.mountPath, ReadOnly: mount.readOnly ?? false });
      } else if (volume?.emptyDir) {
        mounts.push({ Type: 'tmpfs', Target: mount.mountPath, Source: '' });
      } else if (volume?.secret) {
        const source = await this.secretFile(namespace, name, volume.name, volume.secret, mount.subPath);
        if (!source) {
          const message = `MountVolume.SetUp failed for volume "${volume.name}" : secret "${volume.secret.secretName}" not found`;
          this.event(pod, 'Warning', 'FailedMount', message);
          return this.setContainerState(namespace, name, main, { waiting: { reason: 'ContainerCreating' } });
        }
        mounts.push({ Type: 'bind', Source: source, Target: mount.mountPath, ReadOnly: true });
      }
    }
    const sc = { ...spec.securityContext, ...main.securityContext };
    const limits = main.resources?.limits ?? {};
    const containerName = `${prefix}-pod-${namespace}-${name}-${randomBytes(3).toString('hex')}`;
    const container = await engine.createContainer({
      name: containerName,
      Image: image,
      ...(main.command ? { Entrypoint: main.command } : {}),
      ...(main.args ? { Cmd: main.args } : {}),
      Env: (main.env ?? []).map((e) => `${e.name}=${e.value ?? ''}`),
      WorkingDir: main.workingDir,
      User: sc.runAsUser === undefined ? undefined : `${sc.runAsUser}${sc.runAsGroup === undefined ? '' : `:${sc.runAsGroup}`}`,
      Hostname: spec.hostname ?? name,
      Labels: { [`${prefix}.pod`]: `${namespace}/${name}` },
      HostConfig: {
        NetworkMode: this.network,
        // With a shared process namespace the pause container is PID 1 and reaps; docker's init stands in for it.
        Init: spec.shareProcessNamespace === true,
        Mounts: mounts,
        ReadonlyRootfs: sc.readOnlyRootFilesystem ?? false,
        CapDrop: sc.capabilities?.drop,
        CapAdd: sc.capabilities?.add,
        SecurityOpt: sc.allowPrivilegeEscalation === false ? ['no-new-privileges'] : [],
        Memory: limits.memory ? quantity(limits.memory) : undefined,
        NanoCpus: limits.cpu ? Math.round(quantity(limits.cpu) * 1e9) : undefined,
      },
    });
    this.event(pod, 'Normal', 'Created', `Created container ${main.name}`);
    if (!this.current(namespace, name)) {
      await container.remove({ force: true }).catch(() => undefined);
      return;
    }
    // Known before it starts: a command that ends at once must still be seen to end.
    this.running.set(`${namespace}/${name}`, { containerId: container.id, pid: 0 });
    await container.start();
    const info = await container.inspect();
    this.event(pod, 'Normal', 'Started', `Started container ${main.name}`);
    if (!info.State.Running) return;
    this.running.set(`${namespace}/${name}`, { containerId: info.Id, pid: info.State.Pid });
    const ip = info.NetworkSettings.Networks[this.network]?.IPAddress ?? '';
    const started = new Date(info.State.StartedAt).toISOString().replace(/\.\d+Z$/, 'Z');
    this.store.update('pods', namespace, name, (o) => {
      if (o.metadata.deletionTimestamp) return;
      o.status = {
        ...(o.status as object),
        phase: 'Running',
        podIP: ip,
        podIPs: [{ ip }],
        conditions: [condition('PodReadyToStartContainers', 'True'), condition('Initialized', 'True'), condition('Ready', 'True'), condition('ContainersReady', 'True'), condition('PodScheduled', 'True')],
        containerStatuses: [
          {
            name: main.name,
            image,
            imageID: info.Image,
            containerID: `docker://${info.Id}`,
            ready: true,
            started: true,
            restartCount: this.restarts.get(`${namespace}/${name}`) ?? 0,
            state: { running: { startedAt: started } },
          },
        ],
      };
    });
  }

  /**
   * The host file of one secret item, as of now (a subPath mount is not
   * updated later); null when the Secret is missing. Only subPath mounts of
   * listed items, all Berth makes: another mount fails the pod, saying so.
   */
  private async secretFile(namespace: string, pod: string, volume: string, secret: SecretVolume, subPath: string | undefined): Promise<string | null> {
    const found = this.store.get('secrets', namespace, secret.secretName) as (KubeObject & { data?: Record<string, string> }) | undefined;
    const item = secret.items?.find((i) => i.path === subPath);
    if (!item) throw new Error(`the fake kubelet mounts a secret volume only by the subPath of one of its items, not ${JSON.stringify(subPath)}`);
    if (!found) return null;
    const podKey = `${namespace}/${pod}`;
    let dir = this.secretDirs.get(podKey);
    if (!dir) this.secretDirs.set(podKey, (dir = await mkdtemp(join(this.options.dir, 'secret-'))));
    const file = join(dir, `${volume}-${item.path}`);
    await writeFile(file, Buffer.from(found.data?.[item.key] ?? '', 'base64'));
    await chmod(file, item.mode ?? secret.defaultMode ?? 0o644);
    return file;
  }

  private async died(podKey: string, containerId: string): Promise<void> {
    const known = this.running.get(podKey);
    if (!known || known.containerId !== containerId) return;
    this.running.delete(podKey);
    const [namespace, name] = podKey.split('/') as [string, string];
    const pod = this.current(namespace, name);
    const info = await this.options.engine.getContainer(containerId).inspect().catch(() => null);
    if (!pod || !info) return;
    const spec = pod.spec as PodSpec;
    const main = spec.containers[0] as PodSpec['containers'][number];
    const exitCode = info.State.ExitCode;
    const reason = info.State.OOMKilled ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
    const terminated = { exitCode, reason, startedAt: info.State.StartedAt.replace(/\.\d+Z$/, 'Z'), finishedAt: info.State.FinishedAt.replace(/\.\d+Z$/, 'Z'), containerID: `docker://${containerId}` };
    const restart = spec.restartPolicy === 'Always' || (spec.restartPolicy === 'OnFailure' && exitCode !== 0);
    if (!restart) {
      await this.options.engine.getContainer(containerId).stop().catch(() => undefined);
      this.store.update('pods', namespace, name, (o) => {
        const status = o.status as Record<string, unknown>;
        status.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
        status.conditions = [condition('Ready', 'False', 'PodCompleted'), condition('ContainersReady', 'False', 'PodCompleted'), condition('PodScheduled', 'True')];
        status.containerStatuses = [{ name: main.name, image: main.image, ready: false, started: false, restartCount: this.restarts.get(podKey) ?? 0, state: { terminated } }];
      });
      return;
    }
    const count = (this.restarts.get(podKey) ?? 0) + 1;
    this.restarts.set(podKey, count);
    // The real back-off starts at 10 s and doubles to 5 min; the fake's starts at 1 s so tests see it quickly.
    const delay = Math.min(1000 * 2 ** (count - 1), 16_000);
    this.event(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${main.name} in pod ${name}_${namespace}(${pod.metadata.uid})`);
    this.store.update('pods', namespace, name, (o) => {
      const status = o.status as Record<string, unknown>;
      status.phase = 'Running';
      status.conditions = [condition('Ready', 'False', 'ContainersNotReady'), condition('PodScheduled', 'True')];
      status.containerStatuses = [
        {
          name: main.name,
          image: main.image,
          ready: false,
          started: false,
          restartCount: count,
          state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${delay / 1000}s restarting failed container=${main.name} pod=${name}_${namespace}(${pod.metadata.uid})` } },
          lastState: { terminated },
        },
      ];
    });
    setTimeout(() => {
      if (!this.stillThe(pod)) return;
      this.options.engine
        .getContainer(containerId)
        .start()
        .then(() => this.options.engine.getContainer(containerId).inspect())
        .then((again) => {
          this.running.set(podKey, { containerId, pid: again.State.Pid });
          this.setContainerState(namespace, name, main, { running: { startedAt: now() } }, count);
        })
        .catch(() => undefined);
    }, delay).unref();
  }

  private async terminate(namespace: string, name: string, graceSeconds: number): Promise<void> {
    const podKey = `${namespace}/${name}`;
    const pod = this.store.get('pods', namespace, name);
    const known = this.running.get(podKey);
    this.running.delete(podKey);
    this.restarts.delete(podKey);
    const containers = await this.options.engine.listContainers({ all: true, filters: { label: [`${this.options.prefix}.pod=${podKey}`] } });
    if (pod && (known || containers.length)) this.event(pod, 'Normal', 'Killing', `Stopping container ${(pod.spec as PodSpec).containers[0]?.name}`);
    await Promise.all(
      containers.map(async (c) => {
        const container = this.options.engine.getContainer(c.Id);
        await container.stop({ t: graceSeconds }).catch(() => undefined);
        await container.remove({ force: true }).catch(() => undefined);
      }),
    );
    const secretDir = this.secretDirs.get(podKey);
    this.secretDirs.delete(podKey);
    if (secretDir) await rm(secretDir, { recursive: true, force: true });
    this.store.remove('pods', namespace, name);
  }

  private setStatus(namespace: string, name: string, status: object): void {
    this.store.update('pods', namespace, name, (o) => {
      o.status = { ...(o.status as object), ...status };
    });
  }

  private setContainerState(namespace: string, name: string, main: PodSpec['containers'][number], state: object, restartCount = 0): void {
    const running = 'running' in state;
    this.store.update('pods', namespace, name, (o) => {
      if (o.metadata.deletionTimestamp) return;
      const status = o.status as Record<string, unknown>;
      if (running) status.conditions = [condition('Ready', 'True'), condition('ContainersReady', 'True'), condition('PodScheduled', 'True')];
      status.containerStatuses = [{ name: main.name, image: main.image, ready: running, started: running, restartCount, state }];
    });
  }

  private fail(pod: KubeObject, err: unknown): void {
    this.event(pod, 'Warning', 'Failed', `Error: ${(err as Error).message}`);
  }

  event(pod: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string, component = 'kubelet'): void {
    const namespace = pod.metadata.namespace as string;
    this.store.create('events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${pod.metadata.name}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, namespace, uid: pod.metadata.uid, fieldPath: 'spec.containers{berth}' },
      reason,
      message,
      type,
      source: { component, ...(component === 'kubelet' ? { host: this.options.nodeName } : {}) },
      reportingComponent: component,
      reportingInstance: component === 'kubelet' ? this.options.nodeName : '',
      firstTimestamp: now(),
      lastTimestamp: now(),
      count: 1,
    });
  }
}

function condition(type: string, status: 'True' | 'False', reason?: string, message?: string): object {
  return { type, status, lastProbeTime: null, lastTransitionTime: now(), ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
}

function qosClass(spec: PodSpec): string {
  const r = spec.containers[0]?.resources;
  if (!r?.limits && !r?.requests) return 'BestEffort';
  return r.limits && JSON.stringify(r.limits) === JSON.stringify(r.requests ?? r.limits) ? 'Guaranteed' : 'Burstable';
}

/** A Kubernetes quantity as a number: "512Mi", "1G", "500m", "1.5". */
export function quantity(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$/.exec(text);
  if (!m) return Number.NaN;
  const scale: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12, m: 1e-3 };
  return Number(m[1]) * (m[2] ? (scale[m[2]] as number) : 1);
}

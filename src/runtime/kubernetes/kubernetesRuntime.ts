import type { Duplex } from 'node:stream';
import { AuthorizationV1Api, CoreV1Api, NetworkingV1Api, VersionApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { Gauge, type Registry } from 'prom-client';
import { BerthError } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';
import { connectTcp, notListening } from '../connectTcp.js';
import { FALLBACK_SHELL, loginShellFrom } from '../docker/loginShell.js';
import { listenersByExec } from '../procNet.js';
import type { BerthExit, BerthSpec, ExecOptions, ExecProcess, ListeningPort, Observed, Runtime, RuntimeProgress, StopOptions } from '../types.js';
import { refuseIfSuperseded } from '../superseded.js';
import { apiFailure, apiMessage, apiStatus, apiUnavailable, ignoreStatus, isUnreachable, unlessMissing } from './apiErrors.js';
import { startPodExec } from './exec.js';
import { loadKubeConfig } from './kubeConfig.js';
import { homeClaimManifest, homeFilesSecretManifest, instanceSelector, networkPolicyManifest, networkPolicyProblem, podManifest } from './manifests.js';
import { ANNOTATION, CONTAINER, HOME_FILES_VOLUME, homeFilesSecretName, LABEL, MANAGED_BY, networkPolicyName, podName } from './names.js';
import { checkPermissions, type PermissionReport } from './permissions.js';
import { absent, berthNameOf, exitFactsOf, exitOf, isRunning, mainStatus, observe, pendingReason, reportEvent, startFailure } from './podState.js';
import { DEFAULT_WATCH_OPTIONS, PodWatch, type PodWatchOptions } from './podWatch.js';
import { podListeningPorts, type KubernetesReach } from './podReach.js';
import { forwardedStream } from './portForward.js';
import type { KubernetesConfig, ManifestContext } from './settings.js';

export type { KubernetesReach };

export interface KubernetesRuntimeOptions {
  kubernetes: KubernetesConfig;
  /** Written on every pod as berth.instance: which gateway made it. */
  instanceId: string;
  stopGraceSeconds: number;
  /** spawn.timeoutSeconds: a pod not running by then is deleted, not left pending. */
  spawnTimeoutSeconds: number;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  watch?: Partial<PodWatchOptions>;
  /** Where the watch's health gauge goes (the gateway's /_berth/metrics registry). */
  registry?: Registry;
}

const HEALTH_TIMEOUT_MS = 5000;
const PERMISSIONS_TTL_MS = 60_000;
const POLL_MS = 500;
/** A spawn that hears nothing from the watch for this long has it list again. */
const SILENT_WATCH_MS = 10_000;
/** A pod deleted by Berth is waited for this long past its grace. */
const GONE_EXTRA_MS = 30_000;
const SHELL_LOOKUP_TIMEOUT_MS = 3000;
const LISTENING_TTL_MS = 500;
/** How much sooner than the spawner a start is given up: more than one poll and the reads around it. */
const GIVE_UP_EARLY_MS = 1500;

/**
 * Berths as pods. A pod cannot be stopped: stop deletes it and keeps the home
 * claim, and the next ensure creates it again. What the gateway knows comes
 * from the API server (a direct read where a decision depends on it, the
 * supervised watch for the rest), never from memory alone: several gateways
 * and restarts see the same pods.
 */
export class KubernetesRuntime implements Runtime {
  readonly kind = 'kubernetes';
  readonly reach: KubernetesReach;
  private readonly kc: KubeConfig;
  private readonly server: string;
  private readonly namespace: string;
  private readonly core: CoreV1Api;
  private readonly networking: NetworkingV1Api;
  private readonly authorization: AuthorizationV1Api;
  private readonly versions: VersionApi;
  private readonly ctx: ManifestContext;
  private readonly watch: PodWatch;
  /** Pods started or adopted while running, by uid: their end is reported to onExit listeners. */
  private readonly tracked = new Map<string, string>();
  private readonly stoppedOnRequest = new Set<string>();
  private readonly shells = new Map<string, string>();
  private readonly exitListeners = new Set<(exit: BerthExit) => void>();
  private readonly listened = new Map<string, { at: number; ports: Promise<ListeningPort[]> }>();
  private permissions: { at: number; report: Promise<PermissionReport> } | null = null;
  private policy: Promise<void> | null = null;
  private policyMissing: string | null = null;

  constructor(private readonly options: KubernetesRuntimeOptions) {
    const loaded = loadKubeConfig(options.kubernetes, options.env);
    this.kc = loaded.kc;
    this.server = loaded.server;
    this.namespace = options.kubernetes.namespace;
    const configured = options.kubernetes.reach;
    this.reach = configured === 'auto' ? (loaded.inCluster ? 'podIP' : 'portForward') : configured;
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.networking = this.kc.makeApiClient(NetworkingV1Api);
    this.authorization = this.kc.makeApiClient(AuthorizationV1Api);
    this.versions = this.kc.makeApiClient(VersionApi);
    this.ctx = { config: options.kubernetes, instanceId: options.instanceId, stopGraceSeconds: options.stopGraceSeconds, gatewayNamespace: loaded.gatewayNamespace };
    this.watch = new PodWatch(this.kc, this.core, this.namespace, instanceSelector(options.instanceId), options.logger, { ...DEFAULT_WATCH_OPTIONS, ...options.watch });
    this.watch.onChange((change, pod) => this.changed(change, pod));
    this.watch.start();
    if (options.registry) {
      const watch = this.watch;
      new Gauge({
        name: 'berth_kubernetes_watch_up',
        help: 'Whether the kubernetes runtime\'s pod watch is current (1) or failing and retrying (0)',
        registers: [options.registry],
        collect() {
          this.set(watch.health().state === 'watching' ? 1 : 0);
        },
      });
    }
    options.logger.info({ server: this.server, namespace: this.namespace, reach: this.reach }, 'kubernetes runtime');
    void this.permissionReport().then(
      (report) => options.logger[report.missing.length ? 'warn' : 'info']({ granted: report.granted, missing: report.missing }, 'kubernetes: permissions of the gateway\'s account'),
      (err: unknown) => options.logger.warn({ server: this.server, err: apiMessage(err) }, 'kubernetes: the API server is not reachable yet; the gateway retries by itself'),
    );
  }

  /**
   * The NetworkPolicy is what keeps berth pods apart here: it is made, or
   * found missing and reported by health(), before the gateway serves. An
   * API server that is not there yet is no error; ensure() checks again.
   */
  async prepare(): Promise<void> {
    await this.ensureNetworkPolicy().catch((err: unknown) => {
      this.options.logger.warn({ server: this.server, err: apiMessage(err) }, 'kubernetes: could not check the berths\' NetworkPolicy yet; it is checked again before each berth starts');
    });
  }

  /** Whether `address` is one of this gateway's berth pods, as the pod watch last saw them (both families). */
  isBerthAddress(address: string | undefined): boolean {
    if (!address) return false;
    const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
    return this.watch.all().some((pod) => pod.status?.podIP === plain || (pod.status?.podIPs ?? []).some((entry) => entry.ip === plain));
  }

  async health(): Promise<void> {
    try {
      await withTimeout(this.versions.getCode(), HEALTH_TIMEOUT_MS);
    } catch (err) {
      throw apiUnavailable(this.server, err);
    }
    const report = await this.permissionReport().catch((err: unknown) => {
      throw apiFailure(this.server, 'review the gateway\'s permissions', err);
    });
    if (report.missing.length) {
      throw new BerthError({
        code: 'runtime_unavailable',
        userMessage: `The gateway's Kubernetes account lacks permissions in namespace ${this.namespace}: ${report.missing.join(', ')}; apply deploy/kubernetes/rbac.yaml (or grant them).`,
      });
    }
    const watch = this.watch.health();
    if (watch.state === 'failing') {
      throw new BerthError({
        code: 'runtime_unavailable',
        userMessage: `The pod watch on the Kubernetes API server at ${this.server} is failing (${watch.lastError}); it retries by itself, tell the operator if it persists.`,
      });
    }
    // Checked here too, so a missing policy shows before anyone's berth is refused for it.
    await this.ensureNetworkPolicy().catch(() => undefined);
    if (this.policyMissing) throw new BerthError({ code: 'runtime_unavailable', userMessage: this.policyMissing });
  }

  async ensure(spec: BerthSpec, progress: RuntimeProgress, generation?: number): Promise<Observed> {
    // The spawner gives up at spawn.timeoutSeconds from about now: the runtime gives up first, so the user
    // learns Kubernetes' reason (Unschedulable: …) rather than only that the time ran out.
    const timeoutMs = this.options.spawnTimeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs - Math.min(GIVE_UP_EARLY_MS, timeoutMs / 10);
    try {
      // Built first: a configuration problem fails before anything is created.
      const manifest = podManifest(spec, this.ctx, generation);
      await this.ensureNetworkPolicy();
      const name = podName(this.options.kubernetes.namePrefix, spec.name);
      let pod = await this.readPod(spec.name);
      if (pod) refuseIfSuperseded(pod.metadata?.labels, spec.name, generation);
      if (pod && (pod.metadata?.deletionTimestamp || pod.metadata?.annotations?.[ANNOTATION.spec] !== spec.hash || exitOf(pod) || startFailure(pod))) {
        const why = pod.metadata?.deletionTimestamp ? 'still terminating' : pod.metadata?.annotations?.[ANNOTATION.spec] !== spec.hash ? 'spec changed' : 'ended';
        this.options.logger.info({ pod: name, why }, 'kubernetes: replacing the berth\'s pod (the home is kept)');
        await this.deletePod(pod, this.options.stopGraceSeconds);
        pod = null;
      }
      if (pod && isRunning(pod)) return this.remember(spec.name, pod);
      if (!pod) {
        await this.ensureHome(spec);
        await this.replaceHomeFiles(spec);
        progress('creating', `creating pod ${name}`);
        pod = await this.createPod(spec, manifest, generation);
        if (spec.files?.length) await this.replaceHomeFiles(spec, pod);
      }
      return await this.waitRunning(spec, pod, progress, deadline);
    } catch (err) {
      if (err instanceof BerthError) throw err;
      if (isUnreachable(err)) throw apiUnavailable(this.server, err);
      const detail = apiMessage(err);
      throw new BerthError({
        code: 'spawn_failed',
        userMessage: `Your environment could not be started: ${detail}`,
        logMessage: `kubernetes could not start berth ${spec.name}: ${detail}`,
        cause: err,
      });
    }
  }

  async inspect(name: string): Promise<Observed> {
    const pod = await this.call('inspect the berth', () => this.readPod(name));
    return pod ? observe(name, pod, this.stoppedOnRequest.has(pod.metadata?.uid ?? '')) : absent(name);
  }

  async stop(name: string, options: StopOptions): Promise<void> {
    await this.call('stop the berth', async () => {
      const pod = await this.readPod(name);
      this.listened.delete(name);
      if (pod) await this.deletePod(pod, options.graceSeconds);
    });
  }

  async list(): Promise<Observed[]> {
    return this.call('list berths', async () => {
      const pods = this.watch.isSynced() ? this.watch.all() : (await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: instanceSelector(this.options.instanceId) })).items;
      return pods.flatMap((pod) => {
        const name = berthNameOf(pod);
        if (!name || !this.ours(pod, name)) return [];
        return isRunning(pod) ? [this.remember(name, pod)] : [observe(name, pod, this.stoppedOnRequest.has(pod.metadata?.uid ?? ''))];
      });
    });
  }

  /** From the pod's annotation, also for a pod that has just ended: its exit, not "not running", is then what the caller learns. */
  async mainPort(name: string): Promise<number> {
    const pod = this.watch.get(podName(this.options.kubernetes.namePrefix, name)) ?? (await this.call('inspect the berth', () => this.readPod(name)));
    if (!pod || !this.ours(pod, name)) throw notRunning(name);
    return Number(pod.metadata?.annotations?.[ANNOTATION.port] ?? pod.spec?.containers[0]?.ports?.[0]?.containerPort);
  }

  /**
   * A TCP stream to `port` inside the berth. podIP: straight to the pod's
   * address, and through the API's port-forward when that is refused but the
   * berth listens on the port (on its loopback only). portForward: only
   * through the API, after checking the berth listens there, since the
   * protocol says nothing when the kubelet's own dial succeeds. A listener
   * neither way reaches (on 127.0.0.2, say) is refused before any dial.
   */
  async connect(name: string, port: number): Promise<Duplex> {
    const pod = this.watchedRunning(name) ?? (await this.runningPod(name));
    if (this.reach === 'podIP') {
      try {
        return await connectTcp(name, pod.status?.podIP ?? '', port);
      } catch (err) {
        if ((err as { cause?: NodeJS.ErrnoException }).cause?.code !== 'ECONNREFUSED') throw err;
        const listener = (await this.listening(name)).find((l) => l.port === port);
        if (!listener) throw err;
        if (listener.unreachable) throw unreachablePort(name, listener.unreachable, err);
      }
    } else {
      const listener = (await this.listeningSoon(name)).find((l) => l.port === port);
      if (!listener) throw notListening(name, port, ' (read through exec before the port-forward)');
      if (listener.unreachable) throw unreachablePort(name, listener.unreachable);
    }
    return this.call('forward a port of the berth', () => forwardedStream(this.kc, { namespace: this.namespace, pod: pod.metadata?.name as string }, port));
  }

  async listening(name: string): Promise<ListeningPort[]> {
    const ports = listenersByExec((command) => this.exec(name, { command, env: {}, tty: null })).then((list) => podListeningPorts(list, this.reach));
    this.listened.set(name, { at: Date.now(), ports });
    ports.catch(() => this.listened.delete(name));
    return ports;
  }

  /** listening(), at most LISTENING_TTL_MS old and shared by concurrent callers: connect's check before a port-forward. */
  private listeningSoon(name: string): Promise<ListeningPort[]> {
    const known = this.listened.get(name);
    if (known && Date.now() - known.at < LISTENING_TTL_MS) return known.ports;
    return this.listening(name);
  }

  async logs(name: string, lines: number): Promise<string[]> {
    try {
      const text = await this.core.readNamespacedPodLog({ name: podName(this.options.kubernetes.namePrefix, name), namespace: this.namespace, container: CONTAINER, tailLines: lines });
      return String(text).split('\n').filter((line, i, all) => line !== '' || i < all.length - 1).slice(-lines);
    } catch (err) {
      // No pod, or a container that has not started: nothing to read yet.
      if (apiStatus(err) === 404 || apiStatus(err) === 400) return [];
      throw apiFailure(this.server, 'read the berth logs', err);
    }
  }

  async exec(name: string, options: ExecOptions): Promise<ExecProcess> {
    const pod = await this.runningPod(name);
    const target = { namespace: this.namespace, pod: pod.metadata?.name as string, container: CONTAINER };
    return this.call('run a command in the berth', async () => {
      const command = options.command?.length ? options.command : [await this.loginShell(pod), '-l'];
      return startPodExec(this.kc, target, command, options, this.options.logger);
    });
  }

  onExit(listener: (exit: BerthExit) => void): void {
    this.exitListeners.add(listener);
  }

  async close(): Promise<void> {
    this.watch.close();
  }

  /** The watch's state, for tests and the doctor. */
  watchHealth() {
    return this.watch.health();
  }

  private async readPod(name: string): Promise<V1Pod | null> {
    const podNameText = podName(this.options.kubernetes.namePrefix, name);
    const pod = await unlessMissing(this.core.readNamespacedPod({ name: podNameText, namespace: this.namespace }));
    if (!pod) return null;
    if (!this.ours(pod, name)) {
      throw new BerthError({
        code: 'internal',
        userMessage: 'Your environment cannot be started because of a name clash in the cluster; tell the operator.',
        logMessage: `a pod named ${podNameText} exists in namespace ${this.namespace} that this gateway did not create (labels ${LABEL.managedBy}=${MANAGED_BY}, ${LABEL.instance}=${this.options.instanceId}); remove it, or change runtime.kubernetes.namePrefix`,
      });
    }
    return pod;
  }

  private ours(pod: V1Pod, name: string): boolean {
    const labels = pod.metadata?.labels ?? {};
    return labels[LABEL.managedBy] === MANAGED_BY && labels[LABEL.instance] === this.options.instanceId && labels[LABEL.user] === name;
  }

  /** The running pod as the watch last saw it: connect() on the proxy's path asks the API server nothing more. */
  private watchedRunning(name: string): V1Pod | undefined {
    if (this.watch.health().state !== 'watching') return undefined;
    const pod = this.watch.get(podName(this.options.kubernetes.namePrefix, name));
    return pod && this.ours(pod, name) && isRunning(pod) ? pod : undefined;
  }

  private async runningPod(name: string): Promise<V1Pod> {
    const pod = await this.call('inspect the berth', () => this.readPod(name));
    if (!pod || !isRunning(pod)) throw notRunning(name);
    return pod;
  }

  private async createPod(spec: BerthSpec, manifest: V1Pod, generation: number | undefined): Promise<V1Pod> {
    try {
      const pod = await this.core.createNamespacedPod({ namespace: this.namespace, body: manifest });
      this.track(spec.name, pod);
      return pod;
    } catch (err) {
      if (apiStatus(err) !== 409) throw err;
      // Created meanwhile by another gateway or call: use that one.
      const existing = await this.readPod(spec.name);
      if (!existing) throw err;
      refuseIfSuperseded(existing.metadata?.labels, spec.name, generation);
      this.track(spec.name, existing);
      return existing;
    }
  }

  /** Creating a claim that exists is a conflict, not an error: the home is kept across pods. */
  private async ensureHome(spec: BerthSpec): Promise<void> {
    await this.core.createNamespacedPersistentVolumeClaim({ namespace: this.namespace, body: homeClaimManifest(spec, this.ctx) }).catch(ignoreStatus(409));
  }

  /**
   * The config webhook's files, as of this start: the Secret the new pod
   * mounts them from is made or replaced before the pod, and again once the
   * pod exists, to make the pod its owner.
   */
  private async replaceHomeFiles(spec: BerthSpec, owner?: V1Pod): Promise<void> {
    if (!spec.files?.length) return;
    const body = homeFilesSecretManifest(spec, this.ctx, owner);
    try {
      await this.core.createNamespacedSecret({ namespace: this.namespace, body });
    } catch (err) {
      if (apiStatus(err) !== 409) throw err;
      await this.core.replaceNamespacedSecret({ name: body.metadata?.name as string, namespace: this.namespace, body });
    }
  }

  /** Goes with the pod that mounts it: the files are that pod's, and the next start writes them again. */
  private async deleteHomeFiles(pod: V1Pod): Promise<void> {
    const berth = berthNameOf(pod);
    if (!berth || !pod.spec?.volumes?.some((volume) => volume.name === HOME_FILES_VOLUME)) return;
    const name = homeFilesSecretName(this.options.kubernetes.namePrefix, berth);
    await this.core.deleteNamespacedSecret({ name, namespace: this.namespace }).catch(ignoreStatus(404));
  }

  /** Creates the NetworkPolicy that keeps berths apart, or checks the one there; once per runtime, again after a failure. */
  private ensureNetworkPolicy(): Promise<void> {
    this.policy ??= this.checkNetworkPolicy().catch((err: unknown) => {
      this.policy = null;
      throw err;
    });
    return this.policy;
  }

  private async checkNetworkPolicy(): Promise<void> {
    const wanted = networkPolicyManifest(this.ctx);
    const name = networkPolicyName(this.options.kubernetes.namePrefix);
    const { logger } = this.options;
    const found = await unlessMissing(this.networking.readNamespacedNetworkPolicy({ name, namespace: this.namespace }));
    if (found) {
      const problem = networkPolicyProblem(found, wanted);
      if (problem) logger.warn({ networkPolicy: name }, problem);
      this.policyMissing = null;
      return;
    }
    try {
      await this.networking.createNamespacedNetworkPolicy({ namespace: this.namespace, body: wanted });
      logger.info({ networkPolicy: name, namespace: this.namespace }, 'kubernetes: created the NetworkPolicy that lets berth pods accept only the gateway\'s pods');
      this.policyMissing = null;
    } catch (err) {
      if (apiStatus(err) === 409) return;
      this.policyMissing = `NetworkPolicy ${name} is missing in namespace ${this.namespace} and the gateway could not create it (${apiMessage(err)}); apply deploy/kubernetes/networkpolicy.yaml, or grant the gateway "create networkpolicies".`;
      logger.error({ networkPolicy: name }, this.policyMissing);
      throw new BerthError({ code: 'runtime_unavailable', userMessage: 'Environments cannot be started until the operator fixes the cluster set-up; tell the operator.', logMessage: this.policyMissing, cause: err });
    }
  }

  /**
   * Waits until the pod's container runs (or ends), reporting its events as
   * progress; fails at once on what no wait mends (image pull errors), and
   * deletes a pod that did not run within spawn.timeoutSeconds, with the
   * last reason Kubernetes gave.
   */
  private async waitRunning(spec: BerthSpec, created: V1Pod, progress: RuntimeProgress, deadline: number): Promise<Observed> {
    const name = created.metadata?.name as string;
    const uid = created.metadata?.uid as string;
    const seenEvents = new Set<string>();
    let lastPending = '';
    let wake: (() => void) | null = null;
    const unsubscribe = this.watch.onChange((_change, pod) => {
      if (pod.metadata?.name === name) wake?.();
    });
    try {
      for (;;) {
        await this.reportEvents(name, uid, seenEvents, progress);
        const watched = this.watch.get(name);
        const pod = watched?.metadata?.uid === uid ? watched : await this.readPod(spec.name);
        if (!pod || pod.metadata?.uid !== uid) {
          throw new BerthError({ code: 'spawn_failed', userMessage: 'Your environment was removed while it started; try again.', logMessage: `pod ${name} went away while starting` });
        }
        if (isRunning(pod)) {
          await this.reportEvents(name, uid, seenEvents, progress);
          return this.remember(spec.name, pod);
        }
        if (exitOf(pod)) return observe(spec.name, pod, false);
        const failure = startFailure(pod);
        if (failure) {
          await this.deletePod(pod, 0);
          throw podFailed(spec.name, failure.reason, failure.message);
        }
        const pending = pendingReason(pod);
        if (pending && pending.message !== lastPending) {
          lastPending = pending.message;
          progress('creating', `${pending.reason}: ${pending.message}`);
        }
        if (Date.now() > deadline) {
          await this.deletePod(pod, 0);
          const why = pending ? `${pending.reason}: ${pending.message}` : `the pod is ${pod.status?.phase ?? 'Pending'}${mainStatus(pod)?.state?.waiting?.reason ? ` (${mainStatus(pod)?.state?.waiting?.reason})` : ''}`;
          throw new BerthError({
            code: 'spawn_timeout',
            userMessage: `Your environment did not start within ${this.options.spawnTimeoutSeconds} s: ${why}. Try again later, and tell the operator if it persists.`,
            logMessage: `pod ${name} not running after ${this.options.spawnTimeoutSeconds} s, deleted: ${why}`,
          });
        }
        if (this.watch.isSynced() && Date.now() - this.watch.lastEventAt > SILENT_WATCH_MS) this.watch.relist('a spawn heard nothing from the watch');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, POLL_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
    } finally {
      unsubscribe();
    }
  }

  private async reportEvents(podNameText: string, uid: string, seen: Set<string>, progress: RuntimeProgress): Promise<void> {
    try {
      const events = await this.core.listNamespacedEvent({ namespace: this.namespace, fieldSelector: `involvedObject.name=${podNameText},involvedObject.uid=${uid}` });
      const fresh = events.items.filter((e) => e.metadata?.name && !seen.has(e.metadata.name));
      fresh.sort((a, b) => String(a.metadata?.resourceVersion ?? '').localeCompare(String(b.metadata?.resourceVersion ?? ''), undefined, { numeric: true }));
      for (const event of fresh) {
        seen.add(event.metadata?.name as string);
        reportEvent(event, progress);
      }
    } catch (err) {
      // Events only describe progress; a spawn does not fail for want of them.
      this.options.logger.debug({ err: apiMessage(err) }, 'kubernetes: could not read pod events');
    }
  }

  /** Deletes a pod (its end is no crash) and waits until the API server has removed it. */
  private async deletePod(pod: V1Pod, graceSeconds: number): Promise<void> {
    const name = pod.metadata?.name as string;
    const uid = pod.metadata?.uid as string;
    this.stoppedOnRequest.add(uid);
    this.tracked.delete(uid);
    this.shells.delete(uid);
    const grace = Math.max(0, Math.round(graceSeconds));
    if (!pod.metadata?.deletionTimestamp) {
      await this.core.deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds: grace }).catch(ignoreStatus(404));
    }
    await this.deleteHomeFiles(pod);
    const deadline = Date.now() + grace * 1000 + GONE_EXTRA_MS;
    for (;;) {
      const still = await unlessMissing(this.core.readNamespacedPod({ name, namespace: this.namespace }));
      if (still?.metadata?.uid !== uid) return;
      if (Date.now() > deadline) throw new BerthError({ code: 'internal', userMessage: 'Your environment is taking too long to stop; try again in a minute.', logMessage: `pod ${name} still there ${grace} s + ${GONE_EXTRA_MS / 1000} s after its deletion` });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private track(name: string, pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (uid) this.tracked.set(uid, name);
  }

  private remember(name: string, pod: V1Pod): Observed {
    this.track(name, pod);
    return observe(name, pod, false);
  }

  /** From the watch: a tracked pod that ended, or went, without Berth asking is an exit. */
  private changed(change: string, pod: V1Pod): void {
    const uid = pod.metadata?.uid ?? '';
    const name = this.tracked.get(uid);
    if (!name) return;
    if (this.stoppedOnRequest.has(uid)) {
      this.tracked.delete(uid);
      return;
    }
    const exit = exitFactsOf(pod);
    if (change !== 'DELETED' && !exit && !pod.metadata?.deletionTimestamp) return;
    this.tracked.delete(uid);
    if (exit?.oomKilled) this.options.logger.warn({ pod: pod.metadata?.name }, 'kubernetes: the berth was killed for using more memory than its limit (OOMKilled)');
    // Deleted by someone else (kubectl delete, an eviction) before its process ended: that, not a code, is what is known.
    const facts = exit ?? { exitCode: null, reason: 'its pod was deleted' };
    for (const listener of this.exitListeners) listener({ name, ...facts });
  }

  private async permissionReport(): Promise<PermissionReport> {
    if (!this.permissions || Date.now() - this.permissions.at > PERMISSIONS_TTL_MS) {
      const report = checkPermissions(this.authorization, this.namespace);
      this.permissions = { at: Date.now(), report };
      report.catch(() => {
        if (this.permissions?.report === report) this.permissions = null;
      });
    }
    return this.permissions.report;
  }

  /** The login shell of the pod's user from the image's /etc/passwd, once per pod; /bin/sh when it cannot be read. */
  private async loginShell(pod: V1Pod): Promise<string> {
    const uid = pod.metadata?.uid as string;
    const cached = this.shells.get(uid);
    if (cached) return cached;
    let shell = FALLBACK_SHELL;
    try {
      const target = { namespace: this.namespace, pod: pod.metadata?.name as string, container: CONTAINER };
      const exec = await startPodExec(this.kc, target, ['cat', '/etc/passwd'], { command: null, env: {}, tty: null }, this.options.logger);
      exec.stdin.end();
      exec.stderr.resume();
      let passwd = '';
      exec.stdout.on('data', (chunk: Buffer) => (passwd += chunk.toString('utf8')));
      const exit = await Promise.race([exec.exited, new Promise<null>((r) => setTimeout(r, SHELL_LOOKUP_TIMEOUT_MS, null).unref())]);
      const user = pod.spec?.containers[0]?.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser;
      if (exit?.code === 0) shell = loginShellFrom(passwd, user === undefined ? '' : String(user));
    } catch (err) {
      this.options.logger.debug({ err: apiMessage(err) }, 'kubernetes: could not read /etc/passwd; using /bin/sh');
    }
    this.shells.set(uid, shell);
    return shell;
  }

  private async call<T>(doing: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw apiFailure(this.server, doing, err);
    }
  }
}

function notRunning(name: string): BerthError {
  return new BerthError({
    code: 'berth_not_ready',
    userMessage: 'Your environment is not running; start it first.',
    logMessage: `berth ${name} has no running pod`,
  });
}

function podFailed(name: string, reason: string, message: string): BerthError {
  return new BerthError({
    code: 'spawn_failed',
    userMessage: `Your environment could not be started: ${reason}: ${message}`,
    logMessage: `pod of berth ${name} failed to start: ${reason}: ${message}`,
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A port the berth listens on where neither the pod's address nor the API's port-forward reaches. */
function unreachablePort(name: string, reason: string, cause?: unknown): BerthError {
  return new BerthError({ code: 'upstream_failed', userMessage: reason, logMessage: `berth ${name}: ${reason}`, cause });
}

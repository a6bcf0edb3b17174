import { posix } from 'node:path';
import type { V1Container, V1NetworkPolicy, V1ObjectMeta, V1PersistentVolumeClaim, V1Pod, V1PodSpec, V1Secret, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { BerthError } from '../../core/errors.js';
import { memoryBytes } from '../spec.js';
import { substituteArgs, type BerthSpec } from '../types.js';
import { ANNOTATION, BERTH_COMPONENT, CONTAINER, GATEWAY_LABELS, HOME_FILES_VOLUME, HOME_VOLUME, homeClaimName, homeFilesSecretName, LABEL, MANAGED_BY, networkPolicyName, podName, specLabel } from './names.js';
import { mergePodOverrides } from './podOverrides.js';
import type { ManifestContext } from './settings.js';
import { generationLabels } from '../superseded.js';

/** The labels that find every berth of this gateway instance: the watch's selector. */
export function instanceSelector(instanceId: string): string {
  return `${LABEL.managedBy}=${MANAGED_BY},${LABEL.instance}=${instanceId}`;
}

function berthLabels(ctx: ManifestContext, name: string): Record<string, string> {
  return {
    ...ctx.config.labels,
    [LABEL.managedBy]: MANAGED_BY,
    [LABEL.component]: BERTH_COMPONENT,
    [LABEL.instance]: ctx.instanceId,
    [LABEL.user]: name,
  };
}

/**
 * The pod of a berth: everything the spec says, hardened as on Docker (no
 * privilege escalation, every capability dropped but the configured ones,
 * RuntimeDefault seccomp), no service account token, restartPolicy Never so
 * that a crash is reported with its exit code and the next request starts it
 * again, as on Docker. The operator's podOverrides are merged last.
 */
/** `generation`: the spawn lease's, carried as a label (../superseded.ts) where gateways share a store. */
export function podManifest(spec: BerthSpec, ctx: ManifestContext, generation?: number): V1Pod {
  if (!spec.image) {
    throw new BerthError({
      code: 'config_invalid',
      userMessage: 'Your environment has no image configured; ask the operator to set environment.image.',
      logMessage: 'environment.image must be set for runtime.kind kubernetes',
    });
  }
  const { config } = ctx;
  const env = { HOME: spec.homePath, ...spec.env, BERTH_USER: spec.user, PORT: String(spec.port) };
  const user = numericUser(spec.runAsUser);
  const extra = spec.mounts.map((mount, i) => allowedMount(mount, i, config.allowedMounts));
  const resources = resourcesOf(spec.limits, spec.kubernetes?.resources ?? {});
  const files = homeFilesMounts(spec, config.namePrefix);
  // A profile's placement adds to the operator's: its node labels win per key, its tolerations add up.
  const nodeSelector = { ...config.nodeSelector, ...spec.kubernetes?.nodeSelector };
  const tolerations = [...config.tolerations, ...(spec.kubernetes?.tolerations ?? [])];
  const container: V1Container = {
    name: CONTAINER,
    image: spec.image,
    ...(spec.command ? { command: substituteArgs(spec.command, { PORT: spec.port, USER: spec.user }) } : {}),
    env: Object.entries(env).map(([name, value]) => ({ name, value })),
    ...(spec.workingDir ? { workingDir: spec.workingDir } : {}),
    ports: [{ name: 'http', containerPort: spec.port, protocol: 'TCP' }],
    ...(resources ? { resources } : {}),
    securityContext: {
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: spec.readOnlyRoot,
      capabilities: { drop: ['ALL'], add: spec.capabilities },
      ...(user ? { runAsUser: user.uid, ...(user.gid === null ? {} : { runAsGroup: user.gid }) } : {}),
    },
    volumeMounts: [
      { name: HOME_VOLUME, mountPath: spec.homePath },
      ...extra.map((m) => m.mount),
      ...files.mounts,
      // A read-only root still needs somewhere for temporary files.
      ...(spec.readOnlyRoot ? [{ name: 'tmp', mountPath: '/tmp' }] : []),
    ],
  };
  const podSpec: V1PodSpec = {
    containers: [container],
    restartPolicy: 'Never',
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    // The pause container becomes PID 1: it reaps what exec sessions leave and the command gets SIGTERM like any process.
    shareProcessNamespace: true,
    hostname: spec.name,
    terminationGracePeriodSeconds: Math.max(0, Math.round(ctx.stopGraceSeconds)),
    securityContext: {
      seccompProfile: { type: 'RuntimeDefault' },
      ...(user ? { runAsUser: user.uid, ...(user.gid === null ? {} : { runAsGroup: user.gid, fsGroup: user.gid }) } : {}),
    },
    ...(config.serviceAccountName ? { serviceAccountName: config.serviceAccountName } : {}),
    ...(Object.keys(nodeSelector).length ? { nodeSelector } : {}),
    ...(tolerations.length ? { tolerations } : {}),
    ...(config.imagePullSecrets.length ? { imagePullSecrets: config.imagePullSecrets.map((name) => ({ name })) } : {}),
    volumes: [
      { name: HOME_VOLUME, persistentVolumeClaim: { claimName: homeClaimName(config.namePrefix, spec.name) } },
      ...extra.map((m) => m.volume),
      ...files.volumes,
      ...(spec.readOnlyRoot ? [{ name: 'tmp', emptyDir: {} }] : []),
    ],
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName(config.namePrefix, spec.name),
      namespace: config.namespace,
      labels: { ...spec.labels, ...berthLabels(ctx, spec.name), [LABEL.spec]: specLabel(spec.hash), ...generationLabels(generation) },
      annotations: { ...config.annotations, [ANNOTATION.username]: spec.user, [ANNOTATION.spec]: spec.hash, [ANNOTATION.port]: String(spec.port) },
    },
    spec: mergePodOverrides(podSpec, config.podOverrides),
  };
}

/** What a berth's own objects beside its pod carry: its labels (not the spec's), and the username. */
function ownedMetadata(name: string, spec: BerthSpec, ctx: ManifestContext): V1ObjectMeta {
  return { name, namespace: ctx.config.namespace, labels: berthLabels(ctx, spec.name), annotations: { ...ctx.config.annotations, [ANNOTATION.username]: spec.user } };
}

/** The home: kept when the pod goes, so nothing is lost on stop or cull. */
export function homeClaimManifest(spec: BerthSpec, ctx: ManifestContext): V1PersistentVolumeClaim {
  const { config } = ctx;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: ownedMetadata(homeClaimName(config.namePrefix, spec.name), spec, ctx),
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: config.homeSize } },
      ...(config.storageClassName ? { storageClassName: config.storageClassName } : {}),
    },
  };
}

/**
 * The config webhook's files of a berth, one key each (paths are not valid
 * keys, so they are numbered in the order of spec.files, as the pod's
 * mounts are). Labelled like the pod, so a collection delete by labels
 * takes it too; once the pod exists, owned by it, so the cluster's garbage
 * collector removes it with a pod deleted by anyone else.
 */
export function homeFilesSecretManifest(spec: BerthSpec, ctx: ManifestContext, owner?: V1Pod): V1Secret {
  const metadata = ownedMetadata(homeFilesSecretName(ctx.config.namePrefix, spec.name), spec, ctx);
  const uid = owner?.metadata?.uid;
  if (uid) metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'Pod', name: owner.metadata?.name as string, uid }];
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata,
    type: 'Opaque',
    data: Object.fromEntries((spec.files ?? []).map((file, i) => [fileKey(i), file.content.toString('base64')])),
  };
}

function fileKey(index: number): string {
  return `file-${index}`;
}

/**
 * Each file mounted by subPath at its path under the home, read-only, with
 * its own mode: no process or helper image writes into the home, and the
 * kubelet makes the directories on the way. A subPath mount does not follow
 * later changes of the Secret: the files are as of the pod's creation.
 */
function homeFilesMounts(spec: BerthSpec, prefix: string): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const files = spec.files ?? [];
  if (files.length === 0) return { volumes: [], mounts: [] };
  const items = files.map((file, i) => ({ key: fileKey(i), path: fileKey(i), mode: file.mode }));
  return {
    volumes: [{ name: HOME_FILES_VOLUME, secret: { secretName: homeFilesSecretName(prefix, spec.name), items, defaultMode: 0o644 } }],
    mounts: files.map((file, i) => ({ name: HOME_FILES_VOLUME, mountPath: posix.join(spec.homePath, file.path), subPath: fileKey(i), readOnly: true })),
  };
}

/**
 * Berth pods accept connections only from the gateway's pods: without it a
 * berth could open another berth's ports directly, around sign-in and share
 * levels. Port-forward does not pass through it (the kubelet dials inside the
 * pod), so a gateway outside the cluster still reaches its berths.
 */
export function networkPolicyManifest(ctx: ManifestContext): V1NetworkPolicy {
  const { config } = ctx;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: networkPolicyName(config.namePrefix),
      namespace: config.namespace,
      labels: { [LABEL.managedBy]: MANAGED_BY },
    },
    spec: {
      podSelector: { matchLabels: { [LABEL.managedBy]: MANAGED_BY, [LABEL.component]: BERTH_COMPONENT } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          _from: [
            {
              podSelector: { matchLabels: { ...GATEWAY_LABELS } },
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ctx.gatewayNamespace } },
            },
          ],
        },
      ],
    },
  };
}

/**
 * What a policy found in the cluster lacks against the one Berth needs, or
 * null when it isolates berths as required. Only the fields that decide who
 * may connect are compared: a cluster adds defaults of its own elsewhere.
 */
export function networkPolicyProblem(found: V1NetworkPolicy, wanted: V1NetworkPolicy): string | null {
  const pick = (p: V1NetworkPolicy) => JSON.stringify([p.spec?.podSelector ?? {}, p.spec?.policyTypes ?? [], p.spec?.ingress ?? []]);
  if (pick(found) === pick(wanted)) return null;
  return `NetworkPolicy ${found.metadata?.name} does not match the one Berth needs (berth pods accept only the gateway's pods); delete it so the gateway re-creates it, or apply deploy/kubernetes/networkpolicy.yaml`;
}

/** "1000" or "1000:1000": Kubernetes takes numbers only, names need the image's /etc/passwd. */
function numericUser(text: string | null): { uid: number; gid: number | null } | null {
  if (text === null) return null;
  const match = /^(\d+)(?::(\d+))?$/.exec(text.trim());
  if (!match) {
    throw new BerthError({
      code: 'config_invalid',
      userMessage: 'Your environment cannot be started because of the gateway configuration; tell the operator.',
      logMessage: `environment.user ${JSON.stringify(text)}: runtime.kind kubernetes needs a numeric uid or uid:gid, e.g. "1000:1000"`,
    });
  }
  return { uid: Number(match[1]), gid: match[2] === undefined ? null : Number(match[2]) };
}

/**
 * Docker-style sizes ("512m", binary) as Kubernetes quantities, and extended
 * resources (nvidia.com/gpu) as given; requests equal limits, so a berth gets
 * what it is promised (and extended resources allow nothing else).
 */
function resourcesOf(limits: BerthSpec['limits'], extended: Record<string, string>): V1Container['resources'] | null {
  const values: Record<string, string> = { ...extended };
  if (limits.memory !== null) values.memory = String(memoryBytes(limits.memory));
  if (limits.cpus !== null) values.cpu = String(limits.cpus);
  return Object.keys(values).length ? { requests: values, limits: values } : null;
}

/**
 * Extra mounts name a PVC ("pvc/<claim>") or a ConfigMap ("configmap/<name>")
 * the operator listed in runtime.kubernetes.allowedMounts; host paths have no
 * meaning on a cluster and are refused.
 */
function allowedMount(mount: BerthSpec['mounts'][number], index: number, allowed: readonly string[]): { volume: V1Volume; mount: V1VolumeMount } {
  const match = /^(pvc|configmap)\/([a-z0-9]([a-z0-9.-]*[a-z0-9])?)$/.exec(mount.source);
  if (!match || !allowed.includes(mount.source)) {
    throw new BerthError({
      code: 'config_invalid',
      userMessage: `Your environment cannot be started: mounting ${mount.source} is not allowed by the gateway's configuration; ask the operator.`,
      logMessage: `environment.mounts: ${mount.source} is not a "pvc/<name>" or "configmap/<name>" listed in runtime.kubernetes.allowedMounts (${allowed.join(', ') || 'empty'})`,
    });
  }
  const name = `mount-${index}`;
  const volume: V1Volume =
    match[1] === 'pvc'
      ? { name, persistentVolumeClaim: { claimName: match[2] as string, readOnly: mount.readOnly } }
      : { name, configMap: { name: match[2] as string } };
  return { volume, mount: { name, mountPath: posix.normalize(mount.target), readOnly: mount.readOnly } };
}

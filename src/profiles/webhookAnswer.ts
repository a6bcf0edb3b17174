import type { z } from 'zod';
import type { Config } from '../config/schema.js';
import { mountSourceAllowed } from '../core/mounts.js';
import type { ProfileOverrides } from './profiles.js';

/** What Berth applies of a config webhook's answer. */
export interface WebhookAnswer {
  /** A profile the native `berth` object picks; checked like one the person asked for. */
  profile: string | null;
  /** Applied after the profile's, in order. */
  overrides: ProfileOverrides[];
  labels: Record<string, string>;
  /** ContainerSSH's `files` as answered ({path: {value, sensitive}}): confined to the home once the home is known (src/core/homeFiles.ts). */
  files: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/**
 * Reads ContainerSSH's ConfigResponseBody: `config.docker.execution`
 * (Docker's container and host configuration, whose keys Go reads in any
 * case: "Image" and "image" alike), `config.kubernetes.pod` (metadata and a
 * pod spec), `environment` and `files` (metadata values), and Berth's own
 * `berth: {profile, overrides}`. Anything that would loosen a berth's
 * confinement (privileged, added capabilities, host namespaces or devices, a
 * mount outside allowedMounts) refuses the whole answer: the list says what.
 */
export function answerOf(body: unknown, config: Config, overridesSchema: z.ZodType<ProfileOverrides, unknown>): WebhookAnswer | { refused: string[] } {
  const refused: string[] = [];
  const overrides: ProfileOverrides[] = [];
  const labels: Record<string, string> = {};
  const root = asObject(body);
  const appConfig = asObject(field(root, 'config'));
  const allowedMounts = config.runtime.kind === 'kubernetes' ? config.runtime.kubernetes.allowedMounts : config.runtime.docker.allowedMounts;

  const execution = asObject(field(asObject(field(appConfig, 'docker')), 'execution'));
  const container = asObject(field(execution, 'container'));
  const host = asObject(field(execution, 'host'));
  const docker: ProfileOverrides = {};
  const image = field(container, 'image');
  if (typeof image === 'string' && image !== '') docker.image = image;
  const env = envFromList(field(container, 'env'));
  if (env) docker.env = env;
  Object.assign(labels, stringMap(field(container, 'labels')));
  if (field(host, 'privileged') === true) refused.push('a privileged container');
  refused.push(...addedCapabilities(field(host, 'capAdd'), config.environment.capabilities));
  for (const mode of ['networkMode', 'pidMode', 'ipcMode', 'utsMode', 'usernsMode']) {
    if (field(host, mode) === 'host') refused.push(`the host's namespaces (${mode}: host)`);
  }
  if (nonEmpty(field(host, 'devices'))) refused.push('host devices');
  for (const bind of asArray(field(host, 'binds'))) {
    if (typeof bind === 'string' && !mountSourceAllowed(bind.split(':')[0] ?? '', allowedMounts)) refused.push(`a mount of ${bind.split(':')[0]}`);
  }
  for (const mount of asArray(field(host, 'mounts'))) {
    const source = field(asObject(mount), 'source');
    if (typeof source === 'string' && !mountSourceAllowed(source, allowedMounts)) refused.push(`a mount of ${source}`);
  }
  const memory = field(host, 'memory');
  const nanoCpus = field(host, 'nanoCpus');
  const pidsLimit = field(host, 'pidsLimit');
  const limits: NonNullable<ProfileOverrides['limits']> = {};
  if (typeof memory === 'number' && memory > 0) limits.memory = String(Math.round(memory));
  if (typeof nanoCpus === 'number' && nanoCpus > 0) limits.cpus = nanoCpus / 1e9;
  if (typeof pidsLimit === 'number' && pidsLimit > 0) limits.pids = Math.round(pidsLimit);
  if (Object.keys(limits).length > 0) docker.limits = limits;
  if (Object.keys(docker).length > 0) overrides.push(docker);

  const pod = asObject(field(asObject(field(appConfig, 'kubernetes')), 'pod'));
  const kube = kubernetesOverrides(pod, refused);
  if (kube) overrides.push(kube);
  Object.assign(labels, stringMap(field(asObject(field(pod, 'metadata')), 'labels')));

  const environment = asObject(field(root, 'environment'));
  const metadataEnv = Object.fromEntries(
    Object.entries(environment).flatMap(([key, value]) => {
      const text = field(asObject(value), 'value');
      return typeof text === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? [[key, text]] : [];
    }),
  );
  if (Object.keys(metadataEnv).length > 0) overrides.push({ env: metadataEnv });

  const files = asObject(field(root, 'files'));

  let profile: string | null = null;
  const native = asObject(field(root, 'berth'));
  if (typeof native.profile === 'string' && native.profile !== '') profile = native.profile;
  if (native.overrides !== undefined) {
    const parsed = overridesSchema.safeParse(native.overrides);
    if (!parsed.success) {
      refused.push(`berth.overrides that do not read: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join(', ')}`);
    } else {
      refused.push(...addedCapabilities(parsed.data.capabilities, config.environment.capabilities));
      for (const mount of parsed.data.mounts ?? []) {
        if (!mountSourceAllowed(mount.source, allowedMounts)) refused.push(`a mount of ${mount.source}`);
      }
      overrides.push(parsed.data);
    }
  }
  return refused.length > 0 ? { refused } : { profile, overrides, labels, files };
}

function kubernetesOverrides(pod: Json, refused: string[]): ProfileOverrides | null {
  const spec = asObject(field(pod, 'spec'));
  if (Object.keys(spec).length === 0) return null;
  for (const key of ['hostNetwork', 'hostPID', 'hostIPC']) if (field(spec, key) === true) refused.push(`the host's namespaces (${key})`);
  for (const volume of asArray(field(spec, 'volumes'))) {
    if (field(asObject(volume), 'hostPath') !== undefined) refused.push(`a hostPath volume (${String(field(asObject(volume), 'name'))})`);
  }
  const containers = asArray(field(spec, 'containers')).map(asObject);
  for (const c of containers) {
    const security = asObject(field(c, 'securityContext'));
    if (field(security, 'privileged') === true) refused.push('a privileged container');
    if (field(security, 'allowPrivilegeEscalation') === true) refused.push('privilege escalation');
    refused.push(...addedCapabilities(field(asObject(field(security, 'capabilities')), 'add'), []));
  }
  const index = field(pod, 'consoleContainerNumber');
  const main = containers[typeof index === 'number' ? index : 0] ?? {};
  const overrides: ProfileOverrides = {};
  const image = field(main, 'image');
  if (typeof image === 'string' && image !== '') overrides.image = image;
  const env = Object.fromEntries(
    asArray(field(main, 'env')).flatMap((item) => {
      const name = field(asObject(item), 'name');
      const value = field(asObject(item), 'value');
      return typeof name === 'string' && typeof value === 'string' ? [[name, value]] : [];
    }),
  );
  if (Object.keys(env).length > 0) overrides.env = env;
  const resources = asObject(field(main, 'resources'));
  const wanted = { ...stringMap(field(resources, 'requests')), ...stringMap(field(resources, 'limits')) };
  const limits: NonNullable<ProfileOverrides['limits']> = {};
  const extended: Record<string, string> = {};
  for (const [name, quantity] of Object.entries(wanted)) {
    if (name === 'memory') limits.memory = quantity.replace(/i$/, '');
    else if (name === 'cpu') {
      const cpus = quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
      if (Number.isFinite(cpus) && cpus > 0) limits.cpus = cpus;
    }
    else if (name.includes('/')) extended[name] = quantity;
  }
  if (Object.keys(limits).length > 0) overrides.limits = limits;
  const nodeSelector = stringMap(field(spec, 'nodeSelector'));
  const tolerations = asArray(field(spec, 'tolerations')).map(asObject) as NonNullable<NonNullable<ProfileOverrides['kubernetes']>['tolerations']>;
  if (Object.keys(extended).length > 0 || Object.keys(nodeSelector).length > 0 || tolerations.length > 0) {
    overrides.kubernetes = { nodeSelector, tolerations, resources: extended };
  }
  return Object.keys(overrides).length > 0 ? overrides : null;
}

function addedCapabilities(list: unknown, allowed: readonly string[]): string[] {
  const extra = asArray(list).filter((cap) => typeof cap === 'string' && !allowed.includes(cap.replace(/^CAP_/, '')));
  return extra.length > 0 ? [`added capabilities (${extra.join(', ')})`] : [];
}

function envFromList(list: unknown): Record<string, string> | null {
  const pairs = asArray(list).flatMap((item) => {
    if (typeof item !== 'string') return [];
    const at = item.indexOf('=');
    return at > 0 ? [[item.slice(0, at), item.slice(at + 1)]] : [];
  });
  return pairs.length > 0 ? Object.fromEntries(pairs) : null;
}

/** A key as Go's encoding/json reads it: an exact match first, else any case. */
function field(object: Json, name: string): unknown {
  if (name in object) return object[name];
  const lower = name.toLowerCase();
  const key = Object.keys(object).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : object[key];
}

function asObject(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function nonEmpty(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

function stringMap(value: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(asObject(value)).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

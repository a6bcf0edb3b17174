import type { V1PodSpec } from '@kubernetes/client-node';
import { BerthError } from '../../core/errors.js';
import { CONTAINER, HOME_VOLUME } from './names.js';

/**
 * runtime.kubernetes.podOverrides: a partial pod spec merged over the one
 * Berth builds, for what the configuration has no key for (priority classes,
 * affinity, a sidecar, GPU requests). Objects merge key by key; lists of
 * named items (containers, volumes) merge by name; any other list replaces.
 * What would undo the isolation of berths or cut the gateway's hold on the
 * pod is refused, naming the key.
 */
const FORBIDDEN_TRUE = ['hostNetwork', 'hostPID', 'hostIPC'] as const;

export function mergePodOverrides(spec: V1PodSpec, overrides: Record<string, unknown>): V1PodSpec {
  if (Object.keys(overrides).length === 0) return spec;
  const merged = merge(spec, overrides) as V1PodSpec;
  const problem = overrideProblem(merged) ?? (homeKept(spec, merged) ? null : `the volume "${HOME_VOLUME}" must stay the berth's home claim`);
  if (problem) {
    throw new BerthError({
      code: 'config_invalid',
      userMessage: 'Your environment cannot be started because of the gateway configuration; tell the operator.',
      logMessage: `runtime.kubernetes.podOverrides: ${problem}`,
    });
  }
  return merged;
}

function overrideProblem(spec: V1PodSpec): string | null {
  for (const key of FORBIDDEN_TRUE) if ((spec as unknown as Record<string, unknown>)[key] === true) return `${key} may not be set: it would give berths the node's ${key.slice(4)} namespace`;
  if (!Array.isArray(spec.containers)) return 'containers must stay a list';
  const main = spec.containers.find((c) => c.name === CONTAINER);
  if (!main) return `the container "${CONTAINER}" must stay`;
  if (main.securityContext?.privileged || main.securityContext?.allowPrivilegeEscalation) return 'the berth container may not be privileged nor allow privilege escalation';
  if (spec.restartPolicy !== 'Never') return 'restartPolicy must stay Never: the gateway restarts berths itself';
  return null;
}

/** The home volume exactly as Berth made it: the berth's claim and no other source. */
function homeKept(before: V1PodSpec, after: V1PodSpec): boolean {
  const home = (spec: V1PodSpec) => JSON.stringify(spec.volumes?.find((v) => v.name === HOME_VOLUME) ?? null);
  return home(before) === home(after);
}

function merge(base: unknown, over: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(over) && isNamedList(base) && isNamedList(over)) {
    const out = base.map((item) => {
      const match = over.find((o) => o.name === item.name);
      return match ? merge(item, match) : item;
    });
    return [...out, ...over.filter((o) => !base.some((item) => item.name === o.name))];
  }
  if (isObject(base) && isObject(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(over)) out[key] = key in base ? merge(base[key], value) : value;
    return out;
  }
  return over;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNamedList(list: unknown[]): list is Array<{ name: string }> {
  return list.every((item) => isObject(item) && typeof item.name === 'string');
}

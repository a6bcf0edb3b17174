/**
 * How Berth names and marks what it creates in the namespace. Safe names are
 * at most 40 characters and prefixes at most 15 (src/core/safeName.ts), so
 * `<prefix>-<name>-home` stays inside a DNS label's 63.
 */
export const LABEL = {
  /** The safe name: the berth a pod or claim belongs to. */
  user: 'berth.user',
  /** The gateway instance that made it; pods of other instances are never touched. */
  instance: 'berth.instance',
  /** BerthSpec.hash, cut to a label value's 63 characters (the full hash is an annotation). */
  spec: 'berth.spec',
  managedBy: 'app.kubernetes.io/managed-by',
  component: 'app.kubernetes.io/component',
} as const;

export const ANNOTATION = {
  /** The username as given: labels cannot hold every string. */
  username: 'berth.username',
  spec: 'berth.spec',
  /** The main port inside the pod. */
  port: 'berth.port',
} as const;

export const MANAGED_BY = 'berth';
export const BERTH_COMPONENT = 'berth';
/** Labels the gateway's own pods carry (deploy/kubernetes sets them): the only peers berth pods accept. */
export const GATEWAY_LABELS = { 'app.kubernetes.io/name': 'berth', [LABEL.component]: 'gateway' } as const;

/** The one container of a berth pod. */
export const CONTAINER = 'berth';
export const HOME_VOLUME = 'home';
export const HOME_FILES_VOLUME = 'home-files';

export function podName(prefix: string, name: string): string {
  return `${prefix}-${name}`;
}

export function homeClaimName(prefix: string, name: string): string {
  return `${prefix}-${name}-home`;
}

/** The Secret that holds the config webhook's files of a berth: `-files` keeps it inside a DNS label, as `-home` does. */
export function homeFilesSecretName(prefix: string, name: string): string {
  return `${prefix}-${name}-files`;
}

export function networkPolicyName(prefix: string): string {
  return `${prefix}-berths`;
}

/** A label value holds at most 63 characters. */
export function specLabel(hash: string): string {
  return hash.slice(0, 63);
}

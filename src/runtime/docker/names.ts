/**
 * How Berth names and marks what it creates on the engine. Safe names are at
 * most 40 characters and prefixes at most 15, so every name here stays a
 * valid container and volume name (and a DNS label).
 */
export const LABEL = {
  /** "true" on everything Berth creates, for the events filter and clean-up. */
  managed: 'berth.managed',
  /** The username, as given (labels take any string). */
  user: 'berth.user',
  /** The safe name, so a container maps back to its berth without parsing its name. */
  name: 'berth.name',
  /** The gateway instance that created it. */
  instance: 'berth.instance',
  /** BerthSpec.hash: a different hash means re-create. */
  spec: 'berth.spec',
  /** The main port inside the container. */
  port: 'berth.port',
  /**
   * The image as configured: Podman reports a locally stored image as
   * "localhost/<name>", which is not what the operator wrote.
   */
  image: 'berth.image',
  /** How the gateway reaches it; a container made for another mode is re-created. */
  reach: 'berth.reach',
  /** What a thing Berth made on the engine is for, where it is not a berth's: see ISOLATION_KEEPER. */
  role: 'berth.role',
} as const;

/** The role of the pod and network that keep Podman's isolation rules in place (./isolationKeeper.ts). */
export const ISOLATION_KEEPER = 'isolation-keeper';

/** The keeper's two pods and its network; the double hyphen keeps them apart from every berth's names (safe names never start with one). */
export function isolationKeeperNames(prefix: string): { pods: [string, string]; network: string } {
  const base = `${prefix}--${ISOLATION_KEEPER}`;
  return { pods: [base, `${base}-2`], network: `${base}-net` };
}

export function containerName(prefix: string, name: string): string {
  return `${prefix}-${name}`;
}

export function homeVolumeName(prefix: string, name: string): string {
  return `${prefix}-${name}-home`;
}

/** A berth's own network, where the engine keeps berths apart by giving each one (Podman, ./ownNetworks.ts). */
export function berthNetworkName(prefix: string, name: string): string {
  return `${prefix}-${name}-net`;
}

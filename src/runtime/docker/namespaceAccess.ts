/**
 * Why this gateway cannot enter a container's network namespace, or null when
 * it may try: it must run on the engine's Linux host, as root.
 */
export function namespaceUnavailable(engine: { local: boolean; description: string }, uid: number | undefined, platform = process.platform): string | null {
  if (platform !== 'linux') return `the gateway runs on ${platform}, where containers have no network namespace it can enter`;
  if (!engine.local) return `the engine (${engine.description}) is on another host, whose network namespaces the gateway cannot enter`;
  if (uid !== 0) return 'the gateway does not run as root, which entering a network namespace needs';
  return null;
}

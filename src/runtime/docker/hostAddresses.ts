import { networkInterfaces } from 'node:os';
import { cidrMatcher } from '../../core/net.js';

/**
 * Matches this host's own addresses but loopback. A rootless engine's
 * containers reach the host through a user-mode network stack (slirp4netns)
 * that opens their connections as a process of the host, so a berth's
 * request to the gateway arrives from the host address it dialled; loopback
 * stays out because that stack does not let containers reach it (Podman's
 * default, --disable-host-loopback).
 */
export function hostAddressMatcher(): (address: string | undefined) => boolean {
  const own = Object.values(networkInterfaces())
    .flatMap((addresses) => addresses ?? [])
    .filter((a) => !a.internal)
    .map((a) => `${a.address.split('%')[0]}/${a.family === 'IPv4' ? 32 : 128}`);
  return cidrMatcher(own);
}

import { isLoopbackHost, unmapV4 } from '../../core/net.js';
import { summarise, type Listener } from '../procNet.js';
import type { ListeningPort } from '../types.js';

export type KubernetesReach = 'podIP' | 'portForward';

/**
 * Whether the gateway can reach a socket bound to `address` in a pod. The
 * API's port-forward dials localhost inside the pod (the container runtime's
 * dial, containerd and CRI-O alike: 127.0.0.1, then ::1), so it reaches
 * wildcard and localhost listeners only; podIP also dials the pod's address.
 * A socket on another loopback address (127.0.0.2) is reached by neither.
 */
function reaches(address: string, reach: KubernetesReach): boolean {
  const host = unmapV4(address);
  if (host === '0.0.0.0' || host === '::' || host === '127.0.0.1' || host === '::1') return true;
  return reach === 'podIP' && !isLoopbackHost(host);
}

/** The pod's listening ports, each one the gateway cannot reach marked `unreachable` with what to do about it. */
export function podListeningPorts(list: readonly Listener[], reach: KubernetesReach): ListeningPort[] {
  return summarise(list).map((summary) => {
    const own = list.filter((l) => l.port === summary.port);
    if (own.some((l) => reaches(l.address, reach))) return summary;
    const where = own.map((l) => l.address).join(', ');
    return { ...summary, unreachable: `Port ${summary.port} listens only on ${where}, which the gateway cannot reach in a pod; listen on 127.0.0.1 or on all addresses (0.0.0.0) instead.` };
  });
}

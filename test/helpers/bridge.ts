import { execFile } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { freePortOn } from '../../src/runtime/local/freePort.js';
import { engine } from './docker.js';

/*
 * What tests of the berth network from the host's side share: the bridge's
 * addresses, a port there for the gateway, and a probe run inside a container.
 */

/** The first subnet of a network on `client`'s engine (Docker unless named) and the host's own address on its bridge. */
export async function bridgeOf(network: string, client: Docker = engine): Promise<{ subnet: string; hostAddress: string }> {
  const info = (await client.getNetwork(network).inspect()) as { IPAM: { Config: Array<{ Subnet: string; Gateway?: string }> } };
  const [ipam] = info.IPAM.Config;
  if (!ipam) throw new Error(`network ${network} has no subnet`);
  return { subnet: ipam.Subnet, hostAddress: ipam.Gateway ?? firstAddress(ipam.Subnet) };
}

/** Where the engine puts the host's end of a bridge it names no gateway for (Docker's default bridge, when dockerd has --default-address-pool): the subnet's first address. */
function firstAddress(subnet: string): string {
  const octets = (subnet.split('/')[0] as string).split('.').map(Number);
  octets[3] = (octets[3] as number) + 1;
  return octets.join('.');
}

/**
 * A port free on `host` right now (the gateway binds it a moment later), and
 * the address a listener there sees this host's connections come from: the
 * bridge's own address on most hosts, another of the host's on some. A
 * test's stand-in for the auth proxy connects from there.
 */
export async function listenerOn(host: string): Promise<{ port: number; proxyAddress: string }> {
  const port = await freePortOn(host);
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      const proxyAddress = socket.remoteAddress as string;
      socket.destroy();
      server.close(() => resolve({ port, proxyAddress }));
    });
    server.once('error', reject);
    server.listen(port, host, () => {
      connect({ host, port }).once('error', reject);
    });
  });
}

/** Whether busybox nc inside `container` connects to host:port within a second. */
export async function connectsFrom(container: string, host: string, port: number): Promise<boolean> {
  return promisify(execFile)('docker', ['exec', container, 'nc', '-w', '1', host, String(port)]).then(
    () => true,
    () => false,
  );
}

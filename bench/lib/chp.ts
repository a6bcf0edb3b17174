import { randomBytes } from 'node:crypto';
import { ensureNpmPeer } from './install.js';
import { freePort } from './nginx.js';
import { startCommand, type ServerProcess } from './processes.js';

/** The version measured; JupyterHub's proxy, the peer Berth's HTTP side replaces. */
export const CHP_SPEC = 'configurable-http-proxy@4';

/**
 * configurable-http-proxy with every path sent to `target` (http://host:port),
 * as it runs by default (one process), its API on another loopback port.
 */
export async function startChp(target: string, nofile?: number): Promise<ServerProcess> {
  const bin = ensureNpmPeer(CHP_SPEC, 'configurable-http-proxy');
  if (bin === null) throw new Error(`${CHP_SPEC} is missing and could not be installed into bench/.peers`);
  const [port, apiPort] = [await freePort(), await freePort()];
  return startCommand(
    bin,
    ['--ip', '127.0.0.1', '--port', String(port), '--api-ip', '127.0.0.1', '--api-port', String(apiPort), '--default-target', target, '--log-level', 'error'],
    { CONFIGPROXY_AUTH_TOKEN: randomBytes(16).toString('hex') },
    { port },
    nofile,
  );
}

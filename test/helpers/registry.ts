import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { eventually, httpRequest } from './http.js';

/**
 * A real registry for pull tests: Debian's docker-registry (the CNCF
 * distribution server) on loopback, which the engine may use over plain HTTP
 * because it is on 127.0.0.0/8. Its storage lives under `dir`.
 */
export async function startRegistry(dir: string): Promise<{ address: string; process: ChildProcess }> {
  const port = await freeLoopbackPort();
  const config = join(dir, 'registry.yml');
  writeFileSync(
    config,
    ['version: 0.1', 'log: { level: error }', `storage: { filesystem: { rootdirectory: ${join(dir, 'storage')} } }`, `http: { addr: "127.0.0.1:${port}" }`, ''].join('\n'),
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  const address = `127.0.0.1:${port}`;
  await eventually(() => httpRequest(`http://${address}/v2/`).then((r) => (r.status === 200 ? true : undefined), () => undefined), 15_000, 'the registry to answer');
  return { address, process: child };
}

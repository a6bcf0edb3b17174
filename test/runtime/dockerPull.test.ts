import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { DockerRuntime } from '../../src/runtime/docker/dockerRuntime.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { berthSpecFor } from '../../src/runtime/spec.js';
import { accepts, eventually as until, within } from '../conformance/runtime.js';
import { BUSYBOX, engine, removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import { eventually, httpRequest } from '../helpers/http.js';

/*
 * Pulling a missing image, against a real registry: Debian's docker-registry
 * (the CNCF distribution server) on loopback, which the engine may use over
 * plain HTTP because it is on 127.0.0.0/8. The test image is pushed to it and
 * removed locally, so the runtime must pull it to start the berth.
 */

const docker = (...args: string[]) => promisify(execFile)('docker', args, { timeout: 60_000 });
const prefix = runPrefix();
const network = `${prefix}-net`;

async function startRegistry(dir: string): Promise<{ address: string; process: ChildProcess }> {
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

await withEngine('docker image pull', () => {
  describe('docker runtime pulling a missing image from a registry', { timeout: 120_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-registry-'));
    let registry: { address: string; process: ChildProcess };
    let image: string;
    const runtime = new DockerRuntime({
      docker: configSchema.parse({ runtime: { docker: { namePrefix: prefix, network, reach: 'network' } } }).runtime.docker,
      instanceId: 'test-instance',
      stopGraceSeconds: 1,
      logger: createLogger('silent'),
    });

    before(async () => {
      registry = await startRegistry(dir);
      image = `${registry.address}/${prefix}/busybox:latest`;
      await docker('tag', BUSYBOX, image);
      await docker('push', image);
      await docker('rmi', image);
    });

    after(async () => {
      await runtime.close();
      await removeByPrefix(prefix, [network]);
      await docker('rmi', '--force', image).catch(() => undefined);
      registry.process.kill();
      rmSync(dir, { recursive: true, force: true });
    });

    it('pulls the image with progress in the spawn events, then runs the berth from it', async () => {
      const spec = berthSpecFor(configSchema.parse({ environment: { image, command: ['sh', '-c', 'exec httpd -f -p "$PORT"'] } }), 'puller');
      const steps: Array<{ step: string; message: string }> = [];
      const observed = await within(runtime.ensure(spec, (step, message) => steps.push({ step, message })), 60_000, 'ensure with a pull');
      assert.equal(observed.state, 'running');
      assert.equal(observed.image, image);
      assert.deepEqual(steps[0], { step: 'pulling', message: `pulling image ${image}` });
      assert.ok(steps.findIndex((s) => s.step === 'creating') > 0, `pulled before creating: ${JSON.stringify(steps)}`);
      await engine.getImage(image).inspect();
      const port = await runtime.mainPort(spec.name);
      await until(() => accepts(() => runtime.connect(spec.name, port)), 'the berth from the pulled image to listen', 10_000);
    });
  });
});

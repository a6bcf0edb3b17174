import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { DockerRuntime } from '../../src/runtime/docker/dockerRuntime.js';
import { berthSpecFor } from '../../src/runtime/spec.js';
import { accepts, eventually as until, within } from '../conformance/runtime.js';
import { BUSYBOX, engine, removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import { startRegistry } from '../helpers/registry.js';

/*
 * Pulling a missing image, against a real registry on loopback
 * (../helpers/registry.ts). The test image is pushed to it and removed
 * locally, so the runtime must pull it to start the berth.
 */

const docker = (...args: string[]) => promisify(execFile)('docker', args, { timeout: 60_000 });
const prefix = runPrefix();
const network = `${prefix}-net`;

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

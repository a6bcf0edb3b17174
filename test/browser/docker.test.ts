import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, test } from 'node:test';
import Docker from 'dockerode';
import type { Browser } from 'playwright-core';
import { gatewayWithProvider, launchBrowser, newPage, screenshot, signInAt, type BrowserGateway } from './harness.js';

/*
 * The sign-in → loading → app flow with berths as Docker containers, from
 * the busybox test image (scripts/build-test-images.sh). Skips locally
 * without an engine; fails in CI (CI=true), where .ci/run starts one.
 */

const IMAGE = 'berth-test/busybox:latest';
const COMMAND = JSON.stringify([
  'sh',
  '-c',
  'mkdir -p /tmp/www && echo "<!doctype html><title>busybox</title><h1>Hello from busybox, $BERTH_USER</h1>" > /tmp/www/index.html && exec busybox httpd -f -p "$PORT" -h /tmp/www',
]);
/** Everything this run creates carries this prefix, so parallel runs never meet and clean-up finds it all. */
const prefix = `bb${randomBytes(4).toString('hex')}`;
const network = `${prefix}-net`;
const engine = new Docker();

async function missingEngine(): Promise<string | null> {
  try {
    await engine.ping();
  } catch (err) {
    return `no docker engine answers (${(err as Error).message}); start one with: bash .ci/run system engine images`;
  }
  const present = await engine.getImage(IMAGE).inspect().then(() => true, () => false);
  return present ? null : `the test image ${IMAGE} is missing; build it with: bash scripts/build-test-images.sh`;
}

async function removeEverything(): Promise<void> {
  for (const c of await engine.listContainers({ all: true, filters: { name: [`${prefix}-`] } })) {
    await engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  }
  for (const v of (await engine.listVolumes({ filters: { name: [`${prefix}-`] } })).Volumes ?? []) {
    await engine.getVolume(v.Name).remove().catch(() => undefined);
  }
  for (const n of await engine.listNetworks({ filters: { name: [network] } })) {
    await engine.getNetwork(n.Id).remove().catch(() => undefined);
  }
}

const missing = await missingEngine();
if (missing && process.env.CI === 'true') {
  test('docker engine and test image are there (CI)', () => assert.fail(missing));
} else if (missing) {
  test('browser: docker runtime', { skip: missing }, () => undefined);
} else {
  describe('browser: sign in, loading page, app (docker runtime)', () => {
    let browser: Browser;
    let gw: BrowserGateway;
    before(async () => {
      browser = await launchBrowser();
      gw = await gatewayWithProvider({
        env: {
          BERTH_RUNTIME_KIND: 'docker',
          BERTH_RUNTIME_DOCKER_NAME_PREFIX: prefix,
          BERTH_RUNTIME_DOCKER_NETWORK: network,
          BERTH_RUNTIME_DOCKER_REACH: 'network',
          BERTH_ENVIRONMENT_IMAGE: IMAGE,
          BERTH_ENVIRONMENT_COMMAND: COMMAND,
        },
      });
    });
    after(async () => {
      await browser?.close();
      await gw?.close();
      await removeEverything();
    });

    it('signs in through the provider and watches the loading page turn into the container app', async () => {
      const { context, page } = await newPage(browser);
      try {
        await page.goto(`${gw.base}/`);
        await signInAt(page, 'dora');
        await page.getByRole('heading', { name: 'Starting your environment' }).waitFor();
        await screenshot(page, 'loading-docker');
        await page.getByRole('heading', { name: 'Hello from busybox, dora' }).waitFor();
        await page.goto(`${gw.base}/_berth/`);
        await page.locator('#state', { hasText: 'Running' }).waitFor();
        assert.equal(await page.locator('#image').innerText(), IMAGE);
      } finally {
        await context.close();
      }
    });
  });
}

import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { DESKTOP, launchBrowser, newPage, screenshot } from '../browser/harness.js';
import { BUSYBOX, DOCKER, engine, removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import { writeGatewayConfig } from '../helpers/gatewayConfig.js';
import { eventually, httpRequest } from '../helpers/http.js';
import { startRegistry } from '../helpers/registry.js';
import { berthServe, stopServe, type Served } from '../helpers/serve.js';

/*
 * Images pulled ahead of their first berth: `berth serve` on the real Docker
 * engine, with the template's image and a profile's image in a real registry
 * on loopback (../helpers/registry.ts) and missing from the engine. The
 * gateway pulls them at start with nobody signed in, shows each on the admin
 * page (in Chromium) and GET /_berth/api/images, and logs the pull; an image that does not
 * exist fails with the engine's reason and is retried. Changing the
 * template's image (the configuration is read at start) pulls the new one at
 * the start that brings it, so the first berth from it does not wait.
 */

const docker = (...args: string[]) => promisify(execFile)('docker', args, { timeout: 60_000 });
const prefix = runPrefix();
const network = `${prefix}-net`;
const asRoot = { 'X-Forwarded-Preferred-Username': 'root' };
const asAlice = { 'X-Forwarded-Preferred-Username': 'alice' };

interface ListedPull {
  image: string;
  state: string;
  message: string;
  attempts: number;
  retryAt: string | null;
}

await withEngine('images pulled ahead', () => {
  describe('images pulled ahead of their first berth (docker)', { timeout: 180_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-prepull-'));
    const configFile = join(dir, 'berth.yaml');
    let registry: { address: string; process: ChildProcess };
    let gateway: Served | undefined;
    const image = (tag: string) => `${registry.address}/${prefix}/busybox:${tag}`;

    const configure = (templateTag: string) =>
      writeGatewayConfig(configFile, {
        log: { level: 'info' },
        auth: { mode: 'header', admins: ['root'] },
        runtime: { kind: 'docker', docker: { socket: DOCKER.socket, namePrefix: prefix, network } },
        environment: { image: image(templateTag), command: ['sh', '-c', 'mkdir -p /tmp/w && echo hello > /tmp/w/index.html && exec httpd -f -p "$PORT" -h /tmp/w'] },
        profilesChoice: 'default',
        profiles: [
          { slug: 'plain', displayName: 'Plain', default: true },
          { slug: 'broken', displayName: 'Broken', overrides: { image: image('no-such-tag') } },
        ],
      });
    const pulls = async (): Promise<Map<string, ListedPull>> => {
      const reply = await httpRequest(`${gateway?.base}/_berth/api/images`, { headers: asRoot });
      assert.equal(reply.status, 200, reply.body);
      return new Map((JSON.parse(reply.body) as { images: ListedPull[] }).images.map((p) => [p.image, p]));
    };
    const until = (what: string, settled: (pulls: Map<string, ListedPull>) => boolean, ms = 60_000) =>
      eventually(async () => {
        const now = await pulls();
        return settled(now) ? now : undefined;
      }, ms, what);
    const onEngine = (name: string) => engine.getImage(name).inspect().then(() => true, () => false);
    const berths = async () => (await engine.listContainers({ all: true })).filter((c) => c.Names.some((n) => n.startsWith(`/${prefix}-`)));

    before(async () => {
      registry = await startRegistry(dir);
      for (const tag of ['v1', 'v2']) {
        await docker('tag', BUSYBOX, image(tag));
        await docker('push', image(tag));
        await docker('rmi', image(tag));
      }
    });

    after(async () => {
      if (gateway) await stopServe(gateway, 'SIGKILL');
      await removeByPrefix(prefix, [network]);
      for (const tag of ['v1', 'v2']) await docker('rmi', '--force', image(tag)).catch(() => undefined);
      registry.process.kill();
      rmSync(dir, { recursive: true, force: true });
    });

    it("pulls the template's image at start with nobody signed in, on the admin page and in the log; a missing one shows the engine's reason and is retried", async () => {
      configure('v1');
      gateway = await berthServe(['--config', configFile], {});
      const settled = await until('v1 pulled and the broken profile image failed', (now) => now.get(image('v1'))?.state === 'pulled' && now.get(image('no-such-tag'))?.state === 'failed');
      assert.equal(await onEngine(image('v1')), true, 'the template image is on the engine');
      assert.deepEqual(await berths(), [], 'pulled before anyone asked: no berth was made');
      const failed = settled.get(image('no-such-tag')) as ListedPull;
      assert.match(failed.message, /manifest unknown|not found/i, `the engine's reason: ${failed.message}`);
      assert.ok(failed.retryAt !== null, 'a retry is scheduled');

      // The admin page as an administrator's browser shows it (header mode: the auth proxy's header on every request).
      const browser = await launchBrowser();
      try {
        const { page } = await newPage(browser, DESKTOP, 'light', asRoot);
        await page.goto(`${gateway.base}/_berth/admin`);
        const entry = (name: string) => page.locator(`#images li[data-image="${name}"]`);
        await entry(image('v1')).filter({ hasText: 'Pulled' }).waitFor();
        assert.match(await entry(image('v1')).innerText(), /pulled in [\d.]+ s/);
        await entry(image('no-such-tag')).filter({ hasText: 'Failed' }).waitFor();
        assert.match(await entry(image('no-such-tag')).innerText(), /(manifest unknown|not found)[\s\S]*Retrying at/i);
        await screenshot(page, 'admin-images');
      } finally {
        await browser.close();
      }

      const logged = gateway.lines.filter((l) => l.image === image('v1')).map((l) => String(l.msg));
      assert.ok(logged.includes('image pulled ahead of its first berth'), logged.join('\n'));
      assert.ok(
        gateway.lines.some((l) => l.image === image('no-such-tag') && l.msg === 'could not pull the image ahead of its first berth; will retry' && /manifest unknown|not found/i.test(String(l.reason))),
        'the failure is logged with its reason',
      );
      await until('the failed pull to be retried', (now) => (now.get(image('no-such-tag'))?.attempts ?? 0) >= 2, 20_000);
      assert.equal(gateway.output().trim(), '', 'nothing but log lines');
    });

    it("pulls a changed template image at the start that brings it, so the first berth from it does not wait for a pull", async () => {
      if (gateway) await stopServe(gateway, 'SIGTERM');
      configure('v2');
      assert.equal(await onEngine(image('v2')), false);
      gateway = await berthServe(['--config', configFile], {});
      await until('v2 pulled', (now) => now.get(image('v2'))?.state === 'pulled');
      assert.equal((await pulls()).has(image('v1')), false, 'the old image is no longer the template');

      const reply = await httpRequest(`${gateway.base}/`, { headers: asAlice, timeoutMs: 60_000 });
      assert.equal(reply.status, 200, reply.body);
      const me = JSON.parse((await httpRequest(`${gateway.base}/_berth/api/me`, { headers: asAlice })).body) as { berth: { image: string; progress: Array<{ step: string }> } };
      assert.equal(me.berth.image, image('v2'));
      assert.deepEqual(me.berth.progress.filter((p) => p.step === 'pulling'), [], "the berth's start pulled nothing");
    });
  });
});

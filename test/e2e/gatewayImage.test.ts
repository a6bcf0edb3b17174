import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { launchBrowser, newPage, screenshot } from '../browser/harness.js';
import { BUSYBOX, DOCKER, engine, removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import { eventually, httpRequest } from '../helpers/http.js';

/*
 * The root Dockerfile as an operator uses it: built, then run with the Docker
 * socket mounted and the Docker runtime, a Chromium sign-in (dev mode) landing
 * in a berth container, then `docker stop`. No registry is reachable here, so
 * BASE is the local stand-in for the official node:20 image
 * (berth-test/node20, scripts/build-test-images.sh) with this machine's npm
 * cache laid in and npm told to stay offline: the Dockerfile's `npm ci` then
 * installs the lock from that cache and compiles the native modules in the
 * build stage, as it would against the registry.
 *
 * Compiling better-sqlite3 from source takes many minutes on a loaded 2-core
 * machine, and its prebuild-install cannot download the prebuilt binary here.
 * It looks in the npm cache's _prebuilds/ before downloading, though, so the
 * cache copy carries the addon this machine already compiled (same Node.js 20
 * ABI, platform and glibc as the local base), packed as the release asset
 * prebuild-install would have fetched. The Dockerfile is untouched by this: an
 * operator's build downloads the same asset, or compiles.
 */

const NODE_BASE = 'berth-test/node20:latest';
const run = promisify(execFile);
const docker = (...args: string[]) => run('docker', args, { maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60_000 });
/** A berth that answers whom it runs for, from the busybox test image, on every address (the gateway runs unprivileged, so it reaches berths at their bridge address). */
const BERTH_COMMAND = JSON.stringify(['sh', '-c', 'mkdir -p /tmp/w && echo "<!doctype html><title>berth</title><h1>berth of $BERTH_USER</h1>" > /tmp/w/index.html && exec busybox httpd -f -p "$PORT" -h /tmp/w']);

/** Packs this machine's compiled better-sqlite3 addon into `npmCache`/_prebuilds/ under the name prebuild-install gives the release asset it would download. */
async function cachePrebuiltBetterSqlite3(npmCache: string): Promise<void> {
  const fromBetterSqlite3 = createRequire(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
  const prebuildInstall = fromBetterSqlite3('prebuild-install/util') as {
    getDownloadUrl(opts: Record<string, unknown>): string;
    cachedPrebuild(url: string): string;
  };
  const pkg = fromBetterSqlite3('./package.json') as { name: string; version: string };
  // The options prebuild-install's rc gives a glibc Linux build (libc '' means glibc).
  const url = prebuildInstall.getDownloadUrl({ pkg, platform: process.platform, arch: process.arch, abi: process.versions.modules, runtime: 'node', libc: '', 'tag-prefix': 'v' });
  mkdirSync(join(npmCache, '_prebuilds'), { recursive: true });
  const asset = join(npmCache, '_prebuilds', basename(prebuildInstall.cachedPrebuild(url)));
  await run('tar', ['-czf', asset, '-C', dirname(fromBetterSqlite3.resolve('./package.json')), 'build/Release/better_sqlite3.node']);
}

const baseMissing = await engine.getImage(NODE_BASE).inspect().then(() => null, () => `${NODE_BASE} is missing; build it with: bash scripts/build-test-images.sh`);

if (baseMissing && process.env.CI === 'true') {
  test('gateway image: its local base image is there (CI)', () => assert.fail(baseMissing));
} else if (baseMissing) {
  test('gateway image', { skip: baseMissing }, () => undefined);
} else {
  await withEngine('gateway image', () => {
    describe('gateway image: docker build, docker run with the socket, sign-in, docker stop', () => {
      const prefix = runPrefix();
      const network = `${prefix}-net`;
      const base = `${prefix}-node-offline`;
      const image = `${prefix}-gateway`;
      const container = `${prefix}-gateway`;
      const volume = `${prefix}-data`;
      let scratch: string;
      let browser: Browser | undefined;
      let url: string;

      before(async () => {
        scratch = mkdtempSync(join(tmpdir(), 'b19-image-'));
        const { stdout: cache } = await run('npm', ['config', 'get', 'cache']);
        cpSync(join(cache.trim(), '_cacache'), join(scratch, 'npm-cache', '_cacache'), { recursive: true });
        await cachePrebuiltBetterSqlite3(join(scratch, 'npm-cache'));
        writeFileSync(join(scratch, 'Dockerfile'), `FROM ${NODE_BASE}\nCOPY npm-cache /root/.npm\nENV npm_config_offline=true\n`);
        // The classic builder needs no buildx plugin and takes local images as FROM.
        await run('docker', ['build', '-q', '-t', base, scratch], { env: { ...process.env, DOCKER_BUILDKIT: '0' }, timeout: 5 * 60_000 });
      });
      after(async () => {
        await browser?.close();
        await docker('rm', '-f', container).catch(() => undefined);
        await removeByPrefix(prefix, [network]);
        await docker('volume', 'rm', '-f', volume).catch(() => undefined);
        await docker('image', 'rm', '-f', image, base).catch(() => undefined);
        rmSync(scratch, { recursive: true, force: true });
      });

      it('builds from the repository with BASE set to the local Node.js 20 image', async () => {
        await run('docker', ['build', '-q', '--build-arg', `BASE=${base}`, '-t', image, '.'], { env: { ...process.env, DOCKER_BUILDKIT: '0' }, maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60_000 });
        const { stdout } = await docker('image', 'inspect', '--format', '{{json .Config}}', image);
        const config = JSON.parse(stdout) as { Entrypoint: string[]; Healthcheck: { Test: string[] }; Volumes: Record<string, unknown>; User: string };
        assert.deepEqual(config.Entrypoint, ['tini', '--', 'berth-entrypoint']);
        assert.ok(config.Volumes['/data'] !== undefined);
        assert.deepEqual(config.Healthcheck.Test, ['CMD', 'node', '/opt/berth/healthcheck.cjs']);
        // Production dependencies only: no compiler, test or bench packages in the image.
        const { stdout: modules } = await docker('run', '--rm', '--pull', 'never', '--entrypoint', 'sh', image, '-c', 'ls /opt/berth/node_modules; ls /opt/berth/node_modules/.bin 2>/dev/null');
        for (const dev of ['typescript', 'playwright-core', 'oidc-provider', 'tsx', 'autocannon']) assert.ok(!modules.split('\n').includes(dev), `${dev} is a dev dependency`);
        assert.ok(modules.split('\n').includes('better-sqlite3'));
      });

      it('runs with the Docker socket mounted: healthy, unprivileged, and a Chromium sign-in lands in a berth container', async () => {
        const port = await freeLoopbackPort();
        url = `http://127.0.0.1:${port}`;
        await docker(
          // Never a pull: no registry is reachable, and the image was just built.
          'run', '-d', '--pull', 'never', '--name', container,
          // The host's network: the gateway routes to the berth bridge as it does on the host, and listens on loopback only.
          '--network', 'host',
          '--health-interval', '2s', '--health-start-period', '1s',
          '-v', `${DOCKER.socket.slice('unix://'.length)}:/var/run/docker.sock`,
          '-v', `${volume}:/data`,
          '-e', 'BERTH_RUNTIME_KIND=docker',
          '-e', `BERTH_RUNTIME_DOCKER_NAME_PREFIX=${prefix}`,
          '-e', `BERTH_RUNTIME_DOCKER_NETWORK=${network}`,
          '-e', `BERTH_ENVIRONMENT_IMAGE=${BUSYBOX}`,
          '-e', `BERTH_ENVIRONMENT_COMMAND=${BERTH_COMMAND}`,
          '-e', `BERTH_LISTEN_HTTP=127.0.0.1:${port}`,
          '-e', 'BERTH_LISTEN_SSH=null',
          '-e', `BERTH_PUBLIC_URL=${url}`,
          image,
        );
        await eventually(async () => {
          const { stdout } = await docker('inspect', '--format', '{{.State.Health.Status}}', container);
          return stdout.trim() === 'healthy' ? true : undefined;
        }, 60_000, 'the HEALTHCHECK to report healthy');
        assert.equal((await httpRequest(`${url}/_berth/healthz`)).status, 200);

        const { stdout: processes } = await docker('exec', container, 'sh', '-c', 'cat /proc/1/comm; for d in /proc/[0-9]*; do tr "\\0" " " < $d/cmdline | grep -q "^node /opt/berth/bin/berth.js serve" && stat -c "%U %G" $d && cat $d/status | grep ^Groups; done; true');
        const [init, owner, groups] = processes.trim().split('\n');
        assert.equal(init, 'tini', 'PID 1 is the init');
        assert.equal(owner, 'berth berth', 'the gateway runs as the unprivileged user');
        const { stdout: socketGid } = await run('stat', ['-c', '%g', DOCKER.socket.slice('unix://'.length)]);
        assert.ok(groups?.split(/\s+/).includes(socketGid.trim()), `the gateway is in the socket's group ${socketGid.trim()}: ${groups}`);

        browser = await launchBrowser();
        const { page } = await newPage(browser);
        await page.goto(`${url}/`);
        await page.locator('input[name=username]').fill('ingrid');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { name: 'berth of ingrid' }).waitFor({ timeout: 60_000 });
        await screenshot(page, 'gateway-image-berth');
        const berths = await engine.listContainers({ filters: { name: [`${prefix}-`], label: ['berth.user'] } });
        assert.equal(berths.length, 1, 'one berth container, made by the gateway in its container');
        assert.equal(page.url().startsWith(url), true);
      });

      it('docker stop: SIGTERM through tini stops the gateway cleanly, exit 0, and its logs say stopped', async () => {
        await docker('stop', '--time', '30', container);
        const { stdout } = await docker('inspect', '--format', '{{.State.ExitCode}}', container);
        assert.equal(stdout.trim(), '0');
        const { stdout: logs } = await docker('logs', container);
        const events = logs.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string });
        assert.ok(events.some((e) => e.msg.startsWith('shutting down')), logs);
        assert.equal(events.at(-1)?.msg, 'stopped', logs);
      });
    });
  });
}

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { BUSYBOX, DOCKER, engine, engineProxy, runPrefix, withEngine } from '../helpers/docker.js';
import { startFakeApiServer, type FakeApiServer } from '../kubernetes/fakeApiServer/index.js';
import { CLIENT_ID, CLIENT_SECRET, startTestProvider, type TestProvider } from '../helpers/oidcProvider.js';
import { CLI } from '../helpers/serve.js';

/*
 * `berth doctor` against real set-ups: the Docker engine, a real OpenID
 * provider, real sockets and the machine's resolver. Each broken set-up
 * differs from a good one in one thing, and the doctor must name that thing
 * (and only that) with a fix.
 */

interface Report {
  ok: boolean;
  checks: Array<{ check: string; status: 'ok' | 'warn' | 'fail' | 'skip'; message: string; fix?: string }>;
}

const NOBODY = 65534;

function runDoctor(env: Record<string, string>, args: string[] = ['--json'], asNobody = false): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // As root every socket opens; the unreadable-socket case runs the doctor as an unprivileged user, as a gateway should run.
  const command = asNobody && process.getuid?.() === 0 ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath] : [process.execPath];
  const [file = process.execPath, ...pre] = command;
  const child = spawn(file, [...pre, ...CLI, 'doctor', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

async function report(env: Record<string, string>, asNobody = false): Promise<Report> {
  const run = await runDoctor(env, ['--json'], asNobody);
  const parsed = JSON.parse(run.stdout) as Report;
  assert.equal(run.code, parsed.ok ? 0 : 1, `exit code follows ok: ${run.stderr}`);
  return parsed;
}

function onlyFailure(result: Report, check: string, message: RegExp): void {
  const failed = result.checks.filter((c) => c.status === 'fail');
  assert.deepEqual(failed.map((c) => c.check), [check], JSON.stringify(result.checks, null, 2));
  assert.match(failed[0]?.message ?? '', message);
  assert.ok((failed[0]?.fix ?? '').length > 20, 'a failure says what to do');
  assert.equal(result.ok, false);
}

await withEngine('berth doctor', () => {
  describe('berth doctor', () => {
    let dataDir: string;
    let good: Record<string, string>;

    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'b19-doctor-'));
      good = {
        BERTH_DATA_DIR: dataDir,
        BERTH_RUNTIME_KIND: 'docker',
        BERTH_RUNTIME_DOCKER_SOCKET: DOCKER.socket,
        BERTH_ENVIRONMENT_IMAGE: BUSYBOX,
        BERTH_LISTEN_HTTP: `127.0.0.1:${await freeLoopbackPort()}`,
        BERTH_LISTEN_SSH: 'null',
        BERTH_AUTH_MODE: 'header',
        // The auth proxy on this host, on its own port, as in README "Behind an auth proxy".
        BERTH_PUBLIC_URL: `http://127.0.0.1:${await freeLoopbackPort()}`,
      };
    });
    after(() => rmSync(dataDir, { recursive: true, force: true }));

    it('passes a good header-mode set-up on the Docker runtime, and says so in its text form', async () => {
      const result = await report(good);
      assert.equal(result.ok, true, JSON.stringify(result.checks, null, 2));
      const status = Object.fromEntries(result.checks.map((c) => [c.check, c.status]));
      assert.deepEqual(status, { runtime: 'ok', image: 'ok', 'data-dir': 'ok', ports: 'ok', 'public-url': 'ok', 'apps-domain': 'skip', 'proxy-trust': 'ok', 'oidc-provider': 'skip' });
      const text = await runDoctor(good, []);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^ok {4}runtime +docker: Docker .* answers at unix:\/\//m);
      assert.match(text.stdout, /no problems found\n$/);
    });

    it('finds an engine socket the gateway user may not open, and names its group', async () => {
      const socketDir = mkdtempSync(join(tmpdir(), 'b19-doctor-sock-'));
      chmodSync(socketDir, 0o755);
      const proxy = engineProxy(join(socketDir, 'docker.sock'));
      await proxy.up();
      chmodSync(proxy.path, process.getuid?.() === 0 ? 0o600 : 0o000);
      const nobodyData = mkdtempSync(join(tmpdir(), 'b19-doctor-nobody-'));
      if (process.getuid?.() === 0) chownSync(nobodyData, NOBODY, NOBODY);
      try {
        const result = await report({ ...good, BERTH_DATA_DIR: nobodyData, BERTH_RUNTIME_DOCKER_SOCKET: `unix://${proxy.path}` }, true);
        // The image cannot be asked about without the engine: that is the runtime's failure, not a second one.
        onlyFailure(result, 'runtime', /may not open .*docker\.sock \(owner uid \d+, group gid \d+, mode [0-7]+\)/);
        assert.match(result.checks[0]?.fix ?? '', /group \(gid \d+/);
      } finally {
        await proxy.down();
        rmSync(socketDir, { recursive: true, force: true });
        rmSync(nobodyData, { recursive: true, force: true });
      }
    });

    it('finds an image that is neither on the engine nor pullable', async () => {
      // A registry on a loopback port nobody listens on: the engine's pull attempt stays on this host.
      const result = await report({ ...good, BERTH_ENVIRONMENT_IMAGE: `127.0.0.1:${await freeLoopbackPort()}/b19-missing:latest` });
      onlyFailure(result, 'image', /b19-missing:latest is neither on the engine nor pullable/);
    });

    it('finds an apps domain whose wildcard does not resolve', async () => {
      const result = await report({ ...good, BERTH_APPS_DOMAIN: 'apps.b19-nowhere.invalid' });
      onlyFailure(result, 'apps-domain', /^doctor-[0-9a-f]{8}\.apps\.b19-nowhere\.invalid \(a random label under apps\.domain\) does not resolve/);
    });

    it('finds an auth proxy on this host whose address trustedProxies leaves out', async () => {
      const result = await report({ ...good, BERTH_AUTH_HEADER_TRUSTED_PROXIES: '["10.0.0.0/8", "192.168.0.0/16"]' });
      onlyFailure(result, 'proxy-trust', /from 127\.0\.0\.1, outside auth\.header\.trustedProxies \(10\.0\.0\.0\/8, 192\.168\.0\.0\/16\)/);
      assert.match(result.checks.find((c) => c.check === 'proxy-trust')?.fix ?? '', /"127\.0\.0\.1\/32"/);
    });

    it('refuses trustedProxies that trust every address', async () => {
      const result = await report({ ...good, BERTH_AUTH_HEADER_TRUSTED_PROXIES: '["127.0.0.0/8", "0.0.0.0/0"]' });
      onlyFailure(result, 'proxy-trust', /0\.0\.0\.0\/0: anyone who reaches listen\.http/);
    });

    it('finds listen.http taken by another process', async () => {
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      try {
        const result = await report({ ...good, BERTH_LISTEN_HTTP: `127.0.0.1:${(holder.address() as AddressInfo).port}` });
        onlyFailure(result, 'ports', /listen\.http 127\.0\.0\.1:\d+ is taken/);
      } finally {
        holder.close();
      }
    });

    it('finds an https publicUrl pointing at the plain-HTTP listener', async () => {
      const listen = good.BERTH_LISTEN_HTTP as string;
      const result = await report({ ...good, BERTH_AUTH_MODE: 'dev', BERTH_PUBLIC_URL: `https://${listen}` });
      onlyFailure(result, 'public-url', /is https, but it points at listen\.http .*plain HTTP/);
    });

    describe('on Kubernetes (the fake API server, which answers SelfSubjectAccessReviews)', () => {
      let fake: FakeApiServer;
      let kube: Record<string, string>;
      let dir: string;
      before(async () => {
        const prefix = runPrefix();
        dir = mkdtempSync(join(tmpdir(), 'b19-doctor-kube-'));
        fake = await startFakeApiServer({ engine, prefix, dir, namespaces: [prefix] });
        kube = { ...good, BERTH_RUNTIME_KIND: 'kubernetes', BERTH_RUNTIME_KUBERNETES_KUBECONFIG: fake.kubeconfig, BERTH_RUNTIME_KUBERNETES_NAMESPACE: prefix };
      });
      after(async () => {
        await fake?.close();
        rmSync(dir, { recursive: true, force: true });
      });

      it('passes when every permission the runtime uses is granted', async () => {
        const result = await report(kube);
        assert.equal(result.ok, true, JSON.stringify(result.checks, null, 2));
        assert.match(result.checks[0]?.message ?? '', /grants every permission the runtime uses/);
      });

      it('names each permission the account lacks', async () => {
        fake.denied.add('create pods/exec');
        fake.denied.add('create networkpolicies');
        try {
          const result = await report(kube);
          onlyFailure(result, 'runtime', /lacks, in namespace \S+: create pods\/exec, create networkpolicies$/);
        } finally {
          fake.denied.clear();
        }
      });
    });

    describe('with Berth\'s own OpenID sign-in', () => {
      let provider: TestProvider;
      let oidc: Record<string, string>;
      before(async () => {
        provider = await startTestProvider({ gatewayUrl: good.BERTH_PUBLIC_URL as string });
        oidc = { ...good, BERTH_AUTH_MODE: 'oidc', BERTH_AUTH_OIDC_ISSUER: provider.issuer, BERTH_AUTH_OIDC_CLIENT_ID: CLIENT_ID, BERTH_AUTH_OIDC_CLIENT_SECRET: CLIENT_SECRET };
      });
      after(() => provider.close());

      it('passes when the provider answers discovery', async () => {
        const result = await report(oidc);
        assert.equal(result.ok, true, JSON.stringify(result.checks, null, 2));
        assert.equal(result.checks.find((c) => c.check === 'oidc-provider')?.status, 'ok');
      });

      it('finds a provider that is down', async () => {
        const down = `http://127.0.0.1:${await freeLoopbackPort()}`;
        const result = await report({ ...oidc, BERTH_AUTH_OIDC_ISSUER: down });
        onlyFailure(result, 'oidc-provider', /openid-configuration does not answer: ECONNREFUSED/);
      });
    });
  });
});

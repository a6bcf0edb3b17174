import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../conformance/runtime.js';
import { BUSYBOX, withEngine } from '../helpers/docker.js';
import { kubeHarness, type KubeHarness } from './harness.js';

/*
 * Keeps the fake API server honest with a second, independent client: the
 * real kubectl gets, applies, waits for, reads logs of, execs in (with
 * stdin, and with a tty through `script`) and port-forwards to pods of the fake. A fake that only
 * Berth's own client understood would prove nothing.
 */

const KUBECTL = '/usr/bin/kubectl';
const TEST_MS = 60_000;

/**
 * Why kubectl cannot be the second client here, or null. Exec over WebSocket
 * (what the fake speaks) is kubectl's default from 1.30 on; Debian's
 * kubernetes-client (1.20) speaks only SPDY.
 */
async function kubectlMissing(): Promise<string | null> {
  if (!existsSync(KUBECTL)) return `${KUBECTL} is missing; install kubectl 1.30 or later`;
  const { stdout } = await promisify(execFile)(KUBECTL, ['version', '--client', '-o', 'json']);
  const minor = Number((JSON.parse(stdout) as { clientVersion?: { minor?: string } }).clientVersion?.minor?.replace(/\D+$/, ''));
  return minor >= 30 ? null : `${KUBECTL} is version 1.${minor}; these tests need 1.30 or later (exec over WebSocket)`;
}

const missing = await kubectlMissing();

function kubectl(h: KubeHarness, args: string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = spawn(KUBECTL, ['--kubeconfig', h.fake.kubeconfig, '-n', h.namespace, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.end(input ?? '');
    child.on('close', (code) => resolve({ stdout, stderr, code: code ?? -1 }));
  });
}

await withEngine('kubectl against the fake API server', () => {
  describe('kubectl against the fake API server', { skip: missing ?? false }, () => {
    let h: KubeHarness;
    before(async () => {
      h = await kubeHarness();
    });
    after(() => h?.cleanup());

    it('applies a pod and a claim, waits for the pod, gets it, reads its logs', { timeout: TEST_MS }, async () => {
      const manifest = join(h.fake.kubeconfig, '..', 'objects.yaml');
      await writeFile(
        manifest,
        [
          `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: kc-home\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi`,
          `apiVersion: v1\nkind: Pod\nmetadata:\n  name: kc-pod\n  labels:\n    app: kc\nspec:\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: ${BUSYBOX}\n    command: ["sh", "-c", "echo hello from the pod; exec sleep 1000"]\n    volumeMounts:\n    - name: home\n      mountPath: /home/kc\n  volumes:\n  - name: home\n    persistentVolumeClaim:\n      claimName: kc-home`,
        ].join('\n---\n'),
      );
      const applied = await kubectl(h, ['apply', '-f', manifest]);
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /persistentvolumeclaim\/kc-home created/);
      assert.match(applied.stdout, /pod\/kc-pod created/);
      const again = await kubectl(h, ['apply', '-f', manifest]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /pod\/kc-pod unchanged/);
      const waited = await kubectl(h, ['wait', '--for=condition=Ready', 'pod/kc-pod', '--timeout=30s']);
      assert.equal(waited.code, 0, waited.stderr);
      assert.match(waited.stdout, /pod\/kc-pod condition met/);
      const got = await kubectl(h, ['get', 'pods', '-l', 'app=kc', '-o', 'jsonpath={.items[*].metadata.name} {.items[*].status.phase} {.items[*].status.podIP}']);
      assert.equal(got.code, 0, got.stderr);
      assert.match(got.stdout, /^kc-pod Running \d+\.\d+\.\d+\.\d+$/);
      const pvc = await kubectl(h, ['get', 'pvc', 'kc-home', '-o', 'jsonpath={.status.phase}']);
      assert.equal(pvc.stdout, 'Bound');
      // One event a page: kubectl follows the continue tokens to the end of the list.
      const paged = await kubectl(h, ['get', 'events', '--chunk-size=1', '-o', 'name']);
      const whole = await kubectl(h, ['get', 'events', '-o', 'name']);
      assert.ok(whole.stdout.trim().split('\n').length >= 4, whole.stdout);
      assert.equal(paged.stdout, whole.stdout);
      const logs = await eventually(async () => {
        const r = await kubectl(h, ['logs', 'kc-pod']);
        return r.stdout.includes('hello from the pod') && r;
      }, 'the pod log through kubectl');
      assert.equal(logs.stdout, 'hello from the pod\n');
    });

    it('execs with exit codes, with stdin to its end, and with a tty', { timeout: TEST_MS }, async () => {
      const failed = await kubectl(h, ['exec', 'kc-pod', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
      assert.equal(failed.code, 3);
      assert.equal(failed.stdout, 'out\n');
      assert.match(failed.stderr, /err\n/);
      const piped = await kubectl(h, ['exec', '-i', 'kc-pod', '--', 'sh', '-c', 'cat > /home/kc/f && wc -c < /home/kc/f'], 'x'.repeat(100_000));
      assert.equal(piped.code, 0, piped.stderr);
      assert.equal(piped.stdout.trim(), '100000', 'cat saw the end of its input');
      // script gives kubectl a terminal of 33x91; kubectl sends that size on the resize channel.
      const { stdout } = await promisify(execFile)('script', ['-qec', `stty rows 33 cols 91; ${KUBECTL} --kubeconfig ${h.fake.kubeconfig} -n ${h.namespace} exec -it kc-pod -- sh -c 'sleep 0.5; tty; stty size'`, '/dev/null']);
      assert.match(stdout, /\/dev\/pts\/\d+/);
      assert.match(stdout, /33 91/);
    });

    it('port-forwards to a listener on the pod\'s loopback, and says why when nothing listens', { timeout: TEST_MS }, async () => {
      await kubectl(h, ['exec', 'kc-pod', '--', 'sh', '-c', 'mkdir -p /tmp/www && echo forwarded > /tmp/www/index.html && (httpd -f -p 127.0.0.1:8081 -h /tmp/www &)']);
      const forward = spawn(KUBECTL, ['--kubeconfig', h.fake.kubeconfig, '-n', h.namespace, 'port-forward', 'pod/kc-pod', ':8081', ':8099'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      forward.stdout.on('data', (c: Buffer) => (out += c.toString()));
      forward.stderr.on('data', (c: Buffer) => (out += c.toString()));
      try {
        const ports = await eventually(async () => {
          const found = [...out.matchAll(/Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
          return found.length === 2 && new Map(found.map(([local, remote]) => [remote, local]));
        }, 'kubectl to listen on both local ports');
        const page = await fetch(`http://127.0.0.1:${ports.get(8081)}/index.html`);
        assert.equal(await page.text(), 'forwarded\n');
        // A second connection on the same forward: kubectl opens a new pair of streams for each.
        assert.equal(await (await fetch(`http://127.0.0.1:${ports.get(8081)}/index.html`)).text(), 'forwarded\n');
        await fetch(`http://127.0.0.1:${ports.get(8099)}/`).catch(() => undefined);
        const refused = await eventually(async () => /error forwarding port 8099 to pod.*(ECONNREFUSED|connection refused)/i.test(out), 'the dial failure on the error stream').catch(() => out);
        assert.equal(refused, true, `kubectl names the refused dial; it said: ${String(refused)}`);
      } finally {
        forward.kill();
      }
    });

    it('deletes the pod, and the claim with its volume stays', { timeout: TEST_MS }, async () => {
      const deleted = await kubectl(h, ['delete', 'pod', 'kc-pod', '--grace-period=1', '--wait=true']);
      assert.equal(deleted.code, 0, deleted.stderr);
      const gone = await kubectl(h, ['get', 'pod', 'kc-pod']);
      assert.match(gone.stderr, /NotFound|not found/);
      const pvc = await kubectl(h, ['get', 'pvc', 'kc-home', '-o', 'name']);
      assert.equal(pvc.stdout.trim(), 'persistentvolumeclaim/kc-home');
    });

    it("gets the Secret a berth's config webhook files are mounted from, and finds it gone with the pod", { timeout: TEST_MS }, async () => {
      const runtime = h.makeRuntime({ namePrefix: 'kc' });
      const spec = h.specFor('kc-files', ['sh', '-c', 'exec sleep 100']);
      const files = [
        { path: '.config/tool.toml', content: Buffer.from('answer = 42\n'), mode: 0o644 },
        { path: 'token', content: Buffer.from([0, 255, 10]), mode: 0o600 },
      ];
      await runtime.ensure({ ...spec, files }, () => undefined);
      const secret = await kubectl(h, ['get', 'secret', 'kc-kc-files-files', '-o', 'json']);
      assert.equal(secret.code, 0, secret.stderr);
      const got = JSON.parse(secret.stdout) as { type: string; data: Record<string, string>; metadata: { labels: Record<string, string> } };
      assert.equal(got.type, 'Opaque');
      assert.deepEqual(got.data, { 'file-0': Buffer.from('answer = 42\n').toString('base64'), 'file-1': 'AP8K' });
      assert.equal(got.metadata.labels['berth.user'], 'kc-files');
      const modes = await kubectl(h, ['get', 'pod', 'kc-kc-files', '-o', 'jsonpath={.spec.volumes[?(@.name=="home-files")].secret.items[*].mode} {.spec.containers[0].volumeMounts[?(@.name=="home-files")].mountPath}']);
      assert.equal(modes.stdout, `420 384 ${spec.homePath}/.config/tool.toml ${spec.homePath}/token`);
      const pod = await kubectl(h, ['get', 'pod', 'kc-kc-files', '-o', 'jsonpath={.metadata.uid}']);
      const owner = await kubectl(h, ['get', 'secret', 'kc-kc-files-files', '-o', 'jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.metadata.ownerReferences[0].uid}']);
      assert.equal(owner.stdout, `Pod/kc-kc-files ${pod.stdout}`);
      // Deleted by someone else, the pod takes its Secret along; the next start writes the files again.
      assert.equal((await kubectl(h, ['delete', 'pod', 'kc-kc-files', '--grace-period=1', '--wait=true'])).code, 0);
      assert.match((await kubectl(h, ['get', 'secret', 'kc-kc-files-files'])).stderr, /NotFound|not found/);
      await runtime.ensure({ ...spec, files: [{ path: 'token', content: Buffer.from('second answer'), mode: 0o600 }] }, () => undefined);
      const again = await kubectl(h, ['get', 'secret', 'kc-kc-files-files', '-o', 'jsonpath={.data}']);
      assert.deepEqual(JSON.parse(again.stdout), { 'file-0': Buffer.from('second answer').toString('base64') });
      await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
      const gone = await kubectl(h, ['get', 'secret', 'kc-kc-files-files']);
      assert.match(gone.stderr, /NotFound|not found/);
    });
  });
});

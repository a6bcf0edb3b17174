import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { withEngine } from '../helpers/docker.js';
import { eventually, httpRequest } from '../helpers/http.js';
import { berthServe, stopServe, type Served } from '../helpers/serve.js';
import { kubeHarness, type KubeHarness } from './harness.js';

/*
 * `berth serve` with runtime.kind kubernetes, as an operator runs it, against
 * the fake API server: the loading page with the pod's events, the proxy,
 * one pod for a crowd of first requests, adoption after SIGKILL, failures
 * shown with Kubernetes' reasons (OOMKilled, ErrImagePull, Unschedulable)
 * as the fake reports them in pod status and events, and idle culling that
 * deletes the pod and keeps the home.
 */

const GREETER = 'mkdir -p /tmp/www && echo "hello $BERTH_USER $(cat $HOME/mark 2>/dev/null)" > /tmp/www/index.html && exec httpd -f -p "$PORT" -h /tmp/www';
/** Berths that fail by themselves, as users' programs do: one outgrows its memory limit at start, one exits with an error. */
const FAILING = [
  'case "$BERTH_USER" in',
  '  hog) echo "loading everything into memory"; exec tail /dev/zero;;',
  '  crasher) echo "cannot read /data/config.yaml"; exit 3;;',
  'esac',
].join('\n');
const as = (user: string, extra: Record<string, string> = {}) => ({ headers: { 'X-Forwarded-Preferred-Username': user, ...extra }, timeoutMs: 60_000 });

/** Starts the user's berth as a browser does (a navigation gets the loading page) and returns what the page follows until the berth is ready or failed. */
async function navigateAndFollow(base: string, user: string, ms: number): Promise<Array<{ step: string; message: string }>> {
  const progress = progressUntilReady(base, user, ms, Date.now());
  const page = await httpRequest(`${base}/`, as(user, { Accept: 'text/html' }));
  assert.equal(page.status, 200);
  assert.match(page.body, /<html/i);
  return progress;
}

/** The failure /_berth/api/me shows for the user's berth. */
async function failureOf(base: string, user: string): Promise<{ state: string; failure: { reason: string; logTail: string[] } | null }> {
  const me = await httpRequest(`${base}/_berth/api/me`, as(user));
  return (JSON.parse(me.body) as { berth: { state: string; failure: { reason: string; logTail: string[] } | null } }).berth;
}

/** The progress events of the user's berth until it is ready or failed (or `ms` pass); with `since`, the replayed events of an earlier failed start are left out. */
function progressUntilReady(base: string, user: string, ms: number, since = 0): Promise<Array<{ step: string; message: string }>> {
  return new Promise((resolve, reject) => {
    const events: Array<{ step: string; message: string }> = [];
    const req = request(`${base}/_berth/api/me/progress`, { headers: { 'X-Forwarded-Preferred-Username': user }, agent: false }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (!block.startsWith('event: progress') || !data) continue;
          const event = JSON.parse(data) as { step: string; message: string; failure?: { at: number } };
          if (event.step === 'failed' && (event.failure?.at ?? 0) < since) {
            events.length = 0;
            continue;
          }
          events.push(event);
          if (event.step === 'ready' || event.step === 'failed') {
            req.destroy();
            resolve(events);
          }
        }
      });
    });
    req.on('error', (err) => (events.length ? resolve(events) : reject(err)));
    setTimeout(() => {
      req.destroy();
      resolve(events);
    }, ms).unref();
    req.end();
  });
}

await withEngine('berth serve on kubernetes (fake API server)', () => {
  describe('berth serve on kubernetes (fake API server)', { timeout: 240_000 }, () => {
    let h: KubeHarness;
    let configFile: string;
    let gateway: Served;
    const podOf = (user: string) => h.fake.api.store.list('pods', h.namespace).filter((p) => p.metadata.annotations?.['berth.username'] === user);

    before(async () => {
      h = await kubeHarness();
      configFile = join(h.fake.kubeconfig, '..', 'berth.yaml');
      writeFileSync(
        configFile,
        [
          `dataDir: ${join(h.fake.kubeconfig, '..', 'data')}`,
          'listen: { ssh: null }',
          'log: { level: warn }',
          'auth: { mode: header }',
          `runtime: { kind: kubernetes, kubernetes: { kubeconfig: ${JSON.stringify(h.fake.kubeconfig)}, namespace: ${h.namespace} } }`,
          'environment:',
          '  image: berth-test/busybox:latest',
          `  command: [sh, -c, ${JSON.stringify(`${FAILING}\n${GREETER}`)}]`,
          '  limits: { memory: 64m }',
          'spawn: { stopGraceSeconds: 1, timeoutSeconds: 25 }',
          'idle: { stopAfterSeconds: 30, checkEverySeconds: 1 }',
          '',
        ].join('\n'),
      );
      gateway = await berthServe(['--config', configFile], {});
    });

    after(async () => {
      if (gateway) await stopServe(gateway, 'SIGKILL');
      await h?.cleanup();
    });

    it("shows the loading page and streams the pod's events until the proxy answers", async () => {
      const progress = progressUntilReady(gateway.base, 'ada', 30_000);
      const page = await httpRequest(`${gateway.base}/`, as('ada', { Accept: 'text/html' }));
      assert.equal(page.status, 200);
      assert.match(page.body, /<html/i);
      const events = await progress;
      const text = events.map((e) => `${e.step} ${e.message}`).join('\n');
      assert.match(text, /Scheduled: Successfully assigned .*\/berth-ada to fake-node-1/);
      assert.match(text, /Pulled: Container image "berth-test\/busybox:latest" already present on machine/);
      assert.match(text, /Started: Started container berth/);
      assert.equal(events.at(-1)?.step, 'ready', text);
      const reply = await httpRequest(`${gateway.base}/`, as('ada'));
      assert.equal(reply.status, 200);
      assert.equal(reply.body.trim(), 'hello ada');
    });

    it('reports the pod watch in /_berth/metrics and the runtime in /_berth/healthz', async () => {
      const metrics = await httpRequest(`${gateway.base}/_berth/metrics`);
      assert.match(metrics.body, /^berth_kubernetes_watch_up 1$/m);
      const health = await httpRequest(`${gateway.base}/_berth/healthz`);
      assert.deepEqual(JSON.parse(health.body), { status: 'ok', runtime: 'kubernetes' });
    });

    it('creates exactly one pod for 50 concurrent first requests of one user', async () => {
      const replies = await Promise.all(Array.from({ length: 50 }, () => httpRequest(`${gateway.base}/`, as('crowd'))));
      assert.deepEqual(new Set(replies.map((r) => `${r.status} ${r.body.trim()}`)), new Set(['200 hello crowd']));
      assert.equal(podOf('crowd').length, 1, 'one pod');
    });

    it('keeps serving from the same pod after the gateway is killed and restarted (adoption)', async () => {
      const before = podOf('ada')[0]?.metadata.uid;
      assert.ok(before);
      await stopServe(gateway, 'SIGKILL');
      gateway = await berthServe(['--config', configFile], {});
      const me = await httpRequest(`${gateway.base}/_berth/api/me`, as('ada'));
      assert.equal((JSON.parse(me.body) as { berth: { state: string } }).berth.state, 'ready', 'adopted, not starting');
      const reply = await httpRequest(`${gateway.base}/`, as('ada'));
      assert.equal(reply.body.trim(), 'hello ada');
      assert.equal(podOf('ada')[0]?.metadata.uid, before, 'the same pod');
    });

    it('shows a berth killed for outgrowing its memory limit with OOMKilled and its last output, and starts it again on the next visit', async () => {
      const events = await navigateAndFollow(gateway.base, 'hog', 60_000);
      const failed = events.at(-1);
      assert.equal(failed?.step, 'failed', JSON.stringify(events));
      assert.match(failed.message, /exit code 137, killed by SIGKILL, out of memory \(OOMKilled\)/);
      const berth = await failureOf(gateway.base, 'hog');
      assert.equal(berth.state, 'failed');
      assert.match(berth.failure?.reason ?? '', /\(OOMKilled\)/);
      assert.ok(berth.failure?.logTail.includes('loading everything into memory'), JSON.stringify(berth.failure));
      const uid = podOf('hog')[0]?.metadata.uid;
      const again = await navigateAndFollow(gateway.base, 'hog', 60_000);
      assert.equal(again.at(-1)?.step, 'failed');
      assert.notEqual(podOf('hog')[0]?.metadata.uid, uid, 'the next visit made a new pod');
    });

    it('shows a berth that exits by itself with its exit code and last output', async () => {
      const events = await navigateAndFollow(gateway.base, 'crasher', 60_000);
      assert.equal(events.at(-1)?.step, 'failed', JSON.stringify(events));
      const berth = await failureOf(gateway.base, 'crasher');
      assert.match(berth.failure?.reason ?? '', /exited before it was ready \(exit code 3\)/);
      assert.ok(berth.failure?.logTail.includes('cannot read /data/config.yaml'), JSON.stringify(berth.failure));
    });

    it('shows an image the registry does not have with ErrImagePull and its message, and deletes the pod', async () => {
      const image = 'berth-test/busybox:latest';
      h.fake.kubelet.unpullable.add(image);
      try {
        const events = await navigateAndFollow(gateway.base, 'puller', 60_000);
        const failed = events.at(-1);
        assert.equal(failed?.step, 'failed', JSON.stringify(events));
        assert.match(failed.message, /ErrImagePull: Failed to pull image "berth-test\/busybox:latest": .*not found/);
        assert.match(events.map((e) => e.message).join('\n'), /Pulling: Pulling image "berth-test\/busybox:latest"/);
        assert.match((await failureOf(gateway.base, 'puller')).failure?.reason ?? '', /ErrImagePull/);
        await eventually(async () => (podOf('puller').length === 0 ? true : undefined), 30_000, 'the failed pod to be deleted');
      } finally {
        h.fake.kubelet.unpullable.delete(image);
      }
      assert.equal((await httpRequest(`${gateway.base}/`, as('puller'))).body.trim(), 'hello puller', 'the next request tries again');
    });

    it("shows a pod no node can take with the scheduler's reason while it waits, and deletes it after spawn.timeoutSeconds", { timeout: 90_000 }, async () => {
      const { options } = h.fake.kubelet;
      const room = options.allocatableMemory;
      // The node is full: less free memory than the berth's 64m request.
      options.allocatableMemory = 32 * 2 ** 20;
      try {
        const events = await navigateAndFollow(gateway.base, 'unfit', 60_000);
        const text = events.map((e) => `${e.step} ${e.message}`).join('\n');
        assert.match(text, /creating Unschedulable: 0\/1 nodes are available: 1 Insufficient memory\./);
        assert.equal(events.at(-1)?.step, 'failed', text);
        assert.match(events.at(-1)?.message ?? '', /did not start within 25 s: Unschedulable: 0\/1 nodes are available: 1 Insufficient memory/);
        assert.equal(podOf('unfit').length, 0, 'the pending pod was deleted');
      } finally {
        options.allocatableMemory = room;
      }
    });

    it('culls an idle berth by deleting its pod; the claim and the files in the home stay', async () => {
      const user = 'sleepy';
      assert.equal((await httpRequest(`${gateway.base}/`, as(user))).body.trim(), 'hello sleepy');
      const pod = podOf(user)[0];
      assert.ok(pod);
      const claim = `berth-${user}-home`;
      // A file in the home, written through the fake's pod (a real container).
      await h.fake.kubelet.execInPod(h.namespace, pod.metadata.name, ['sh', '-c', 'echo kept > "$HOME/mark"']);
      await eventually(async () => (podOf(user).length === 0 ? true : undefined), 60_000, 'the idle pod to be deleted');
      assert.ok(h.fake.api.store.get('persistentvolumeclaims', h.namespace, claim), 'the home claim is kept');
      const again = await httpRequest(`${gateway.base}/`, as(user));
      assert.equal(again.body.trim(), 'hello sleepy kept', 'a new pod with the same home');
    });
  });
});

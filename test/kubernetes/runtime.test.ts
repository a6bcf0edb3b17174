import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BerthError } from '../../src/core/errors.js';
import type { KubernetesRuntime } from '../../src/runtime/kubernetes/kubernetesRuntime.js';
import type { BerthExit } from '../../src/runtime/types.js';
import { eventually, run, within } from '../conformance/runtime.js';
import { withEngine } from '../helpers/docker.js';
import type { KubeObject } from './fakeApiServer/store.js';
import { kubeHarness, SERVER, type KubeHarness } from './harness.js';

/*
 * What the kubernetes runtime does beyond the conformance suite, against the
 * fake API server through the real client-node: the objects it creates, the
 * failures it reports with Kubernetes' reasons, adoption and concurrency,
 * and a watch that survives what real API servers do to watches.
 */

const TEST_MS = 30_000;
const SLEEPER = ['sh', '-c', 'exec sleep 1000'];

await withEngine('kubernetes runtime', () => {
  describe('kubernetes runtime', () => {
    let h: KubeHarness;
    let runtime: KubernetesRuntime;
    const exits: BerthExit[] = [];
    const pods = () => h.fake.api.store.list('pods', h.namespace);

    before(async () => {
      h = await kubeHarness();
      runtime = h.makeRuntime();
      runtime.onExit((exit) => exits.push(exit));
    });
    after(() => h?.cleanup());

    it('creates the NetworkPolicy that lets berth pods accept only the gateway pods, and selects its pods with it', { timeout: TEST_MS }, async () => {
      const spec = h.specFor('np-user', SLEEPER);
      await runtime.ensure(spec, () => undefined);
      const policy = h.fake.api.store.get('networkpolicies', h.namespace, 'berth-berths') as KubeObject & { spec: Record<string, unknown> };
      assert.ok(policy, 'the NetworkPolicy exists');
      assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
      assert.deepEqual(policy.spec.ingress, [
        { from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'berth', 'app.kubernetes.io/component': 'gateway' } }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': h.namespace } } }] },
      ]);
      const selector = (policy.spec.podSelector as { matchLabels: Record<string, string> }).matchLabels;
      const pod = h.fake.api.store.get('pods', h.namespace, `berth-${spec.name}`) as KubeObject;
      for (const [k, v] of Object.entries(selector)) assert.equal(pod.metadata.labels?.[k], v, `the berth pod carries ${k}=${v}`);
      await runtime.stop(spec.name, { remove: false, graceSeconds: 1 });
    });

    it('refuses to start berths when the NetworkPolicy is missing and may not be created, and says so in health', { timeout: TEST_MS }, async () => {
      h.fake.denied.add('create networkpolicies');
      const other = h.makeRuntime({ namePrefix: 'np' });
      try {
        await assert.rejects(other.ensure(h.specFor('np-denied', SLEEPER), () => undefined), { code: 'runtime_unavailable', logMessage: /NetworkPolicy np-berths is missing.*deploy\/kubernetes\/networkpolicy\.yaml/ });
        await assert.rejects(other.health(), { code: 'runtime_unavailable' });
      } finally {
        h.fake.denied.delete('create networkpolicies');
      }
    });

    it('labels the pod, keeps the raw username in an annotation, and keeps the home claim when the pod goes', { timeout: TEST_MS }, async () => {
      const spec = h.specFor('Ada Lovelace', SLEEPER);
      const observed = await runtime.ensure(spec, () => undefined);
      assert.equal(observed.state, 'running');
      assert.equal(observed.user, 'Ada Lovelace');
      const pod = h.fake.api.store.get('pods', h.namespace, `berth-${spec.name}`) as KubeObject;
      assert.equal(pod.metadata.labels?.['berth.user'], spec.name);
      assert.equal(pod.metadata.labels?.['berth.instance'], 'test-instance');
      assert.equal(pod.metadata.annotations?.['berth.username'], 'Ada Lovelace');
      assert.equal((await run(runtime, spec.name, ['sh', '-c', 'echo kept > "$HOME/file"'])).code, 0);
      await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
      assert.equal(h.fake.api.store.get('pods', h.namespace, `berth-${spec.name}`), undefined, 'stop deletes the pod');
      assert.ok(h.fake.api.store.get('persistentvolumeclaims', h.namespace, `berth-${spec.name}-home`), 'the home claim stays');
      await runtime.ensure(spec, () => undefined);
      assert.equal((await run(runtime, spec.name, ['cat', `${spec.homePath}/file`])).stdout, 'kept\n');
      await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
    });

    it("replaces a files Secret left from an earlier start instead of failing on it, and mounts this start's files", { timeout: TEST_MS }, async () => {
      const spec = h.specFor('leftover-files', SLEEPER);
      const name = `berth-${spec.name}-files`;
      // As after a start that made the Secret and then failed to create its pod.
      h.fake.api.store.create('secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: h.namespace }, data: { 'file-0': Buffer.from('stale').toString('base64'), 'file-7': '' } });
      await runtime.ensure({ ...spec, files: [{ path: 'answer', content: Buffer.from('fresh'), mode: 0o644 }] }, () => undefined);
      const secret = h.fake.api.store.get('secrets', h.namespace, name) as KubeObject & { data: Record<string, string> };
      assert.deepEqual(secret.data, { 'file-0': Buffer.from('fresh').toString('base64') });
      assert.equal(secret.metadata.labels?.['berth.user'], spec.name);
      assert.deepEqual((await run(runtime, spec.name, ['cat', `${spec.homePath}/answer`])).stdout, 'fresh');
      await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
      assert.equal(h.fake.api.store.get('secrets', h.namespace, name), undefined, 'the Secret goes with the pod');
    });

    it("shows the pod's events as progress", { timeout: TEST_MS }, async () => {
      const spec = h.specFor('progress-user', SLEEPER);
      const steps: string[] = [];
      await runtime.ensure(spec, (step, message) => steps.push(`${step} ${message}`));
      const text = steps.join('\n');
      assert.match(text, /creating Scheduled: Successfully assigned .*\/berth-progress-user to fake-node-1/);
      assert.match(text, /pulling Pulled: Container image "berth-test\/busybox:latest" already present/);
      assert.match(text, /creating Created: Created container berth/);
      assert.match(text, /starting Started: Started container berth/);
      await runtime.stop(spec.name, { remove: false, graceSeconds: 1 });
    });

    it('reports an image that cannot be pulled with its reason, and deletes the pod so the next request retries', { timeout: TEST_MS }, async () => {
      const spec = h.specFor('pull-user', SLEEPER, { image: 'berth-test/absent:nope' });
      await assert.rejects(runtime.ensure(spec, () => undefined), { code: 'spawn_failed', userMessage: /ErrImagePull: Failed to pull image "berth-test\/absent:nope"/ });
      assert.equal(h.fake.api.store.get('pods', h.namespace, `berth-${spec.name}`), undefined);
    });

    it('reports an unschedulable pod with the scheduler\'s message and deletes it after spawn.timeoutSeconds', { timeout: TEST_MS }, async () => {
      const quick = h.makeRuntime({}, { spawnTimeoutSeconds: 2 });
      const spec = h.specFor('big-user', SLEEPER, { limits: { memory: '64g' } });
      const steps: string[] = [];
      await assert.rejects(quick.ensure(spec, (_s, m) => steps.push(m)), { code: 'spawn_timeout', userMessage: /within 2 s: Unschedulable: 0\/1 nodes are available: 1 Insufficient memory/ });
      assert.ok(steps.some((m) => /Insufficient memory/.test(m)), 'the reason shows while it waits');
      assert.equal(h.fake.api.store.get('pods', h.namespace, `berth-${spec.name}`), undefined, 'the pending pod is deleted, not left');
    });

    it('reports a home claim that stays pending', { timeout: TEST_MS }, async () => {
      const quick = h.makeRuntime({ storageClassName: 'fake-pending', namePrefix: 'pend' }, { spawnTimeoutSeconds: 2 });
      await assert.rejects(quick.ensure(h.specFor('pvc-user', SLEEPER), () => undefined), { code: 'spawn_timeout', userMessage: /unbound immediate PersistentVolumeClaims/ });
    });

    it('refuses a pod of the same name that another gateway instance made, and never lists it', { timeout: TEST_MS }, async () => {
      const spec = h.specFor('shared-name', SLEEPER);
      await runtime.ensure(spec, () => undefined);
      const stranger = h.makeRuntime({}, { instanceId: 'other-instance' });
      assert.ok(!(await stranger.list()).some((b) => b.name === spec.name));
      await assert.rejects(stranger.ensure(spec, () => undefined), { code: 'internal', logMessage: /did not create/ });
      assert.equal((await runtime.inspect(spec.name)).state, 'running', 'the other instance did not touch it');
      await runtime.stop(spec.name, { remove: false, graceSeconds: 1 });
    });

    it('adopts running pods in a new runtime of the same instance, and reports their exit', { timeout: TEST_MS }, async () => {
      const spec = h.specFor('adopt-user', SLEEPER);
      const first = await runtime.ensure(spec, () => undefined);
      const successor = h.makeRuntime();
      const seen: BerthExit[] = [];
      successor.onExit((e) => seen.push(e));
      const listed = await eventually(async () => (await successor.list()).find((b) => b.name === spec.name), 'the pod in the new runtime\'s list');
      assert.equal(listed.id, first.id);
      assert.equal(listed.state, 'running');
      assert.equal((await successor.ensure(spec, () => undefined)).id, first.id, 'ensure adopts the pod with the same spec');
      await run(successor, spec.name, ['sh', '-c', 'kill -TERM $(pidof sleep)']);
      const exit = await eventually(async () => seen.find((e) => e.name === spec.name), 'the adopted pod\'s exit');
      assert.equal(exit.exitCode, 143);
      await runtime.stop(spec.name, { remove: false, graceSeconds: 1 });
    });

    it("carries the spawn lease's generation as a label, and refuses a stale holder's create or re-create once a newer one made the pod", { timeout: TEST_MS }, async () => {
      const spec = h.specFor('fenced-user', SLEEPER);
      const made = await runtime.ensure(spec, () => undefined, 2);
      const podOf = () => h.fake.api.store.get('pods', h.namespace, `berth-${spec.name}`) as KubeObject;
      assert.equal(podOf().metadata.labels?.['berth.generation'], '2', 'made under the second lease');
      const stale = h.makeRuntime();
      const superseded = (err: unknown) => err instanceof BerthError && err.code === 'spawn_superseded';
      await assert.rejects(stale.ensure(spec, () => undefined, 1), superseded);
      // A changed environment would replace the pod: not for a stale holder.
      const changed = h.specFor('fenced-user', ['sh', '-c', 'exec sleep 999']);
      assert.notEqual(changed.hash, spec.hash);
      await assert.rejects(stale.ensure(changed, () => undefined, 1), superseded);
      assert.deepEqual([podOf().metadata.uid, (await runtime.inspect(spec.name)).state], [made.id, 'running'], 'the newer holder\'s pod is untouched');
      // The holder of a newer lease, and a gateway spawning alone (no lease), use the pod as it is.
      assert.equal((await stale.ensure(spec, () => undefined, 3)).id, made.id);
      assert.equal((await stale.ensure(spec, () => undefined)).id, made.id);
      await runtime.stop(spec.name, { remove: false, graceSeconds: 1 });
    });

    it('creates one pod for 50 concurrent ensures of one berth', { timeout: TEST_MS }, async () => {
      const spec = h.specFor('crowd-user', SLEEPER);
      const results = await within(Promise.all(Array.from({ length: 50 }, () => runtime.ensure(spec, () => undefined))), 25_000, '50 ensures');
      assert.equal(new Set(results.map((r) => r.id)).size, 1);
      assert.equal(pods().filter((p) => p.metadata.labels?.['berth.user'] === spec.name).length, 1);
      await runtime.stop(spec.name, { remove: false, graceSeconds: 1 });
    });

    it('runs execs over v4.channel.k8s.io when the server has no v5, with exit codes', { timeout: TEST_MS }, async () => {
      const spec = h.specFor('v4-user', SLEEPER);
      await runtime.ensure(spec, () => undefined);
      h.fake.streams.protocols = ['v4.channel.k8s.io'];
      try {
        assert.deepEqual(await run(runtime, spec.name, ['sh', '-c', 'echo out; echo err >&2; exit 7']), { stdout: 'out\n', stderr: 'err\n', code: 7, signal: null });
      } finally {
        h.fake.streams.protocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
      }
      await runtime.stop(spec.name, { remove: false, graceSeconds: 1 });
    });

    it('kills a command in the pod when its exec connection drops', { timeout: TEST_MS }, async () => {
      const spec = h.specFor('drop-user', SLEEPER);
      await runtime.ensure(spec, () => undefined);
      const exec = await runtime.exec(spec.name, { command: ['sh', '-c', 'echo ready; exec sleep 4242'], env: {}, tty: null });
      await eventually(async () => new Promise<boolean>((resolve) => exec.stdout.once('data', () => resolve(true))), 'the command to start');
      h.fake.streams.close();
      assert.deepEqual(await within(exec.exited, 5000, 'the exec to end'), { code: null, signal: null });
      await eventually(async () => !(await run(runtime, spec.name, ['ps'])).stdout.includes('sleep 4242'), 'the command to be gone from the pod');
      await runtime.stop(spec.name, { remove: false, graceSeconds: 1 });
    });

    it('names the missing permission in health, from SelfSubjectAccessReviews', { timeout: TEST_MS }, async () => {
      h.fake.denied.add('create pods/exec');
      try {
        await assert.rejects(h.makeRuntime().health(), { code: 'runtime_unavailable', userMessage: /lacks permissions in namespace .*: create pods\/exec; apply deploy\/kubernetes\/rbac\.yaml/ });
      } finally {
        h.fake.denied.delete('create pods/exec');
      }
      await h.makeRuntime().health();
    });

    it('survives a dropped watch, a 410 Gone and an API server away for 20 s: no berth lost, no false exit, no duplicate pod', { timeout: 60_000 }, async () => {
      const spec = h.specFor('steady-user', SLEEPER);
      const started = await runtime.ensure(spec, () => undefined);
      const exitsBefore = exits.length;
      const stillThere = async () => {
        const listed = (await runtime.list()).find((b) => b.name === spec.name);
        assert.equal(listed?.id, started.id);
        assert.equal(listed?.state, 'running');
      };
      h.fake.api.dropWatches();
      await eventually(async () => runtime.watchHealth().restarts >= 0 && runtime.watchHealth().state === 'watching', 'the watch to come back');
      h.fake.api.store.compact();
      h.fake.api.dropWatches();
      await eventually(async () => runtime.watchHealth().state === 'watching', 'the watch after 410');
      await stillThere();

      await h.fake.api.down();
      await assert.rejects(runtime.health(), { code: 'runtime_unavailable', userMessage: new RegExp(`API server at ${h.fake.url.replace(/[.]/g, '\\.')} is not reachable`) });
      await new Promise((resolve) => setTimeout(resolve, 20_000));
      assert.equal(runtime.watchHealth().state, 'failing');
      await h.fake.api.up();
      await eventually(async () => runtime.watchHealth().state === 'watching', 'the watch after the API server came back', 10_000);
      await runtime.health();
      await stillThere();
      assert.equal(exits.length, exitsBefore, 'no exit was reported for a berth that kept running');
      assert.equal((await runtime.ensure(spec, () => undefined)).id, started.id, 'the same pod, not a second one');
      assert.equal(pods().filter((p) => p.metadata.labels?.['berth.user'] === spec.name).length, 1);
      await runtime.stop(spec.name, { remove: false, graceSeconds: 1 });
    });

    it('reaches a listener on the pod\'s loopback through the port-forward, in both reach modes', { timeout: TEST_MS }, async () => {
      const spec = h.specFor('loop-user', ['sh', '-c', 'exec busybox httpd -f -p 127.0.0.1:"$PORT"']);
      await runtime.ensure(spec, () => undefined);
      const ports = await eventually(async () => {
        const now = await runtime.listening(spec.name);
        return now.some((p) => p.port === spec.port) && now;
      }, 'the loopback listener');
      assert.deepEqual(ports.find((p) => p.port === spec.port), { port: spec.port, loopbackOnly: true });
      for (const rt of [runtime, h.makeRuntime({ reach: 'portForward' })]) {
        const socket = await rt.connect(spec.name, spec.port);
        socket.write('GET / HTTP/1.0\r\n\r\n');
        let reply = '';
        for await (const chunk of socket) reply += String(chunk);
        assert.match(reply, /^HTTP\/1\.[01] (200|404)/, `${rt.reach}: ${reply.slice(0, 60)}`);
      }
      await assert.rejects(runtime.connect(spec.name, 9), { code: 'upstream_failed' });
      await runtime.stop(spec.name, { remove: false, graceSeconds: 1 });
    });
  });
});


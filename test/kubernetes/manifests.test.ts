import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { homeClaimManifest, networkPolicyManifest, networkPolicyProblem, podManifest } from '../../src/runtime/kubernetes/manifests.js';
import type { ManifestContext } from '../../src/runtime/kubernetes/settings.js';
import { berthSpecFor } from '../../src/runtime/spec.js';

function context(kubernetes: NonNullable<ConfigInput['runtime']>['kubernetes'] = {}): ManifestContext {
  const config = configSchema.parse({ runtime: { kind: 'kubernetes', kubernetes } }).runtime.kubernetes;
  return { config, instanceId: 'inst1', stopGraceSeconds: 7, gatewayNamespace: 'berth-system' };
}

function spec(environment: ConfigInput['environment'] = {}, user = 'Alice.Smith@example.com') {
  return berthSpecFor(configSchema.parse({ environment: { image: 'jupyter/base', command: ['start', '--port=${PORT}', '--user=${USER}'], ...environment } }), user);
}

describe('kubernetes manifests', () => {
  it('names the pod and claim after the safe name and keeps the raw username in an annotation', () => {
    const s = spec();
    const pod = podManifest(s, context());
    assert.equal(pod.metadata?.name, `berth-${s.name}`);
    assert.equal(pod.metadata?.namespace, 'berth');
    assert.equal(pod.metadata?.labels?.['berth.user'], s.name);
    assert.equal(pod.metadata?.labels?.['berth.instance'], 'inst1');
    assert.equal(pod.metadata?.labels?.['berth.spec'], s.hash.slice(0, 63));
    assert.ok((pod.metadata?.labels?.['berth.spec'] ?? '').length <= 63, 'a label value holds at most 63 characters');
    assert.equal(pod.metadata?.labels?.['app.kubernetes.io/managed-by'], 'berth');
    assert.equal(pod.metadata?.annotations?.['berth.username'], 'Alice.Smith@example.com');
    assert.equal(pod.metadata?.annotations?.['berth.spec'], s.hash);
    const claim = homeClaimManifest(s, context());
    assert.equal(claim.metadata?.name, `berth-${s.name}-home`);
    assert.ok((claim.metadata?.name ?? '').length <= 63);
    assert.deepEqual(claim.spec?.resources?.requests, { storage: '10Gi' });
    assert.equal(pod.spec?.volumes?.[0]?.persistentVolumeClaim?.claimName, claim.metadata?.name);
  });

  it('substitutes the command, sets BERTH_USER, PORT and HOME, and mounts the home', () => {
    const s = spec({ env: { LANG: 'C.UTF-8' }, port: 8888, homePath: '/home/jovyan' });
    const container = podManifest(s, context()).spec?.containers[0];
    assert.deepEqual(container?.command, ['start', '--port=8888', `--user=${s.user}`]);
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
    assert.deepEqual(env, { HOME: '/home/jovyan', LANG: 'C.UTF-8', BERTH_USER: s.user, PORT: '8888' });
    assert.deepEqual(container?.volumeMounts, [{ name: 'home', mountPath: '/home/jovyan' }]);
    assert.deepEqual(container?.ports, [{ name: 'http', containerPort: 8888, protocol: 'TCP' }]);
  });

  it('maps limits, capabilities, user and read-only root to resources and the security context', () => {
    const s = spec({ limits: { memory: '512m', cpus: 1.5 }, capabilities: ['CHOWN'], user: '1000:100', readOnlyRoot: true });
    const pod = podManifest(s, context());
    const container = pod.spec?.containers[0];
    assert.deepEqual(container?.resources, { requests: { memory: String(512 * 1024 * 1024), cpu: '1.5' }, limits: { memory: String(512 * 1024 * 1024), cpu: '1.5' } });
    assert.deepEqual(container?.securityContext, {
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: ['CHOWN'] },
      runAsUser: 1000,
      runAsGroup: 100,
    });
    assert.deepEqual(pod.spec?.securityContext, { seccompProfile: { type: 'RuntimeDefault' }, runAsUser: 1000, runAsGroup: 100, fsGroup: 100 });
    assert.ok(container?.volumeMounts?.some((m) => m.mountPath === '/tmp'), 'a read-only root gets a writable /tmp');
    assert.equal(pod.spec?.automountServiceAccountToken, false);
    assert.equal(pod.spec?.restartPolicy, 'Never');
    assert.equal(pod.spec?.terminationGracePeriodSeconds, 7);
  });

  it('refuses a user name, which Kubernetes cannot resolve', () => {
    assert.throws(() => podManifest(spec({ user: 'jovyan' }), context()), { code: 'config_invalid', message: /numeric uid/ });
  });

  it('refuses mounts unless they name a PVC or ConfigMap the operator listed', () => {
    const mounts = [{ source: 'pvc/course-data', target: '/data', readOnly: true }];
    assert.throws(() => podManifest(spec({ mounts }), context()), { code: 'config_invalid', message: /allowedMounts/ });
    assert.throws(() => podManifest(spec({ mounts: [{ source: '/srv', target: '/srv' }] }), context({ allowedMounts: ['pvc/course-data'] })), { code: 'config_invalid' });
    const pod = podManifest(spec({ mounts }), context({ allowedMounts: ['pvc/course-data'] }));
    assert.deepEqual(pod.spec?.volumes?.[1], { name: 'mount-0', persistentVolumeClaim: { claimName: 'course-data', readOnly: true } });
    assert.deepEqual(pod.spec?.containers[0]?.volumeMounts?.[1], { name: 'mount-0', mountPath: '/data', readOnly: true });
  });

  it('carries the operator settings: node selector, tolerations, pull secrets, labels, annotations, service account, storage class', () => {
    const ctx = context({
      nodeSelector: { 'node.kubernetes.io/pool': 'berths' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'berths', effect: 'NoSchedule' }],
      imagePullSecrets: ['registry'],
      labels: { team: 'research' },
      annotations: { 'example.com/owner': 'platform' },
      serviceAccountName: 'berth-user',
      storageClassName: 'fast',
      homeSize: '2Gi',
    });
    const pod = podManifest(spec(), ctx);
    assert.deepEqual(pod.spec?.nodeSelector, { 'node.kubernetes.io/pool': 'berths' });
    assert.deepEqual(pod.spec?.imagePullSecrets, [{ name: 'registry' }]);
    assert.equal(pod.spec?.tolerations?.[0]?.key, 'dedicated');
    assert.equal(pod.spec?.serviceAccountName, 'berth-user');
    assert.equal(pod.metadata?.labels?.team, 'research');
    assert.equal(pod.metadata?.annotations?.['example.com/owner'], 'platform');
    const claim = homeClaimManifest(spec(), ctx);
    assert.equal(claim.spec?.storageClassName, 'fast');
    assert.deepEqual(claim.spec?.resources?.requests, { storage: '2Gi' });
  });

  it('merges podOverrides last, containers by name, and refuses what undoes isolation', () => {
    const pod = podManifest(spec(), context({ podOverrides: { priorityClassName: 'low', containers: [{ name: 'berth', resources: { limits: { 'nvidia.com/gpu': '1' } } }] } }));
    assert.equal(pod.spec?.priorityClassName, 'low');
    assert.equal(pod.spec?.containers.length, 1);
    assert.deepEqual(pod.spec?.containers[0]?.resources, { limits: { 'nvidia.com/gpu': '1' } });
    assert.equal(pod.spec?.containers[0]?.image, 'jupyter/base');
    for (const bad of [{ hostNetwork: true }, { restartPolicy: 'Always' }, { containers: [{ name: 'berth', securityContext: { privileged: true } }] }, { volumes: [{ name: 'home', emptyDir: {} }] }]) {
      assert.throws(() => podManifest(spec(), context({ podOverrides: bad })), { code: 'config_invalid', message: /podOverrides/ }, JSON.stringify(bad));
    }
  });

  it('makes a NetworkPolicy that lets berth pods accept only the gateway pods, and spots one that differs', () => {
    const wanted = networkPolicyManifest(context());
    assert.equal(wanted.metadata?.name, 'berth-berths');
    assert.deepEqual(wanted.spec?.podSelector, { matchLabels: { 'app.kubernetes.io/managed-by': 'berth', 'app.kubernetes.io/component': 'berth' } });
    assert.deepEqual(wanted.spec?.policyTypes, ['Ingress']);
    assert.deepEqual(wanted.spec?.ingress, [
      {
        _from: [
          {
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'berth', 'app.kubernetes.io/component': 'gateway' } },
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'berth-system' } },
          },
        ],
      },
    ]);
    const pod = podManifest(spec(), context());
    for (const [key, value] of Object.entries(wanted.spec?.podSelector?.matchLabels ?? {})) assert.equal(pod.metadata?.labels?.[key], value, 'the policy selects berth pods');
    assert.equal(networkPolicyProblem(structuredClone(wanted), wanted), null);
    const open = structuredClone(wanted);
    open.spec!.ingress = [{}];
    assert.match(networkPolicyProblem(open, wanted) ?? '', /does not match/);
  });
});

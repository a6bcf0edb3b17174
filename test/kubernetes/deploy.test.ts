import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { configSchema } from '../../src/config/schema.js';
import { networkPolicyManifest } from '../../src/runtime/kubernetes/manifests.js';
import { NEEDED, permissionName } from '../../src/runtime/kubernetes/permissions.js';

/*
 * deploy/kubernetes renders offline with kubectl's kustomize, its Role grants
 * exactly what the runtime uses (no more, no less), and its NetworkPolicy is
 * the one the runtime would create.
 */

const KUBECTL = '/usr/bin/kubectl';

type Doc = { kind: string; metadata: { name: string; namespace?: string }; [key: string]: unknown };

describe('deploy/kubernetes', { skip: existsSync(KUBECTL) ? false : `${KUBECTL} is missing; install kubectl to render the kustomization` }, () => {
  const rendered = (async () => {
    const { stdout } = await promisify(execFile)(KUBECTL, ['kustomize', 'deploy/kubernetes']);
    return parseAllDocuments(stdout).map((d) => d.toJS() as Doc);
  })();

  it('renders with kubectl kustomize: namespace, account, role and binding, policy, config, state, deployment, service', async () => {
    const docs = await rendered;
    assert.deepEqual(docs.map((d) => d.kind).sort(), ['ConfigMap', 'Deployment', 'Namespace', 'NetworkPolicy', 'PersistentVolumeClaim', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
    for (const d of docs.filter((x) => x.kind !== 'Namespace')) assert.equal(d.metadata.namespace, 'berth', `${d.kind} ${d.metadata.name} in namespace berth`);
    const deployment = docs.find((d) => d.kind === 'Deployment') as Doc & { spec: { template: { spec: { serviceAccountName: string; containers: Array<{ readinessProbe: { httpGet: { path: string } }; livenessProbe: { httpGet: { path: string } } }> } } } };
    const pod = deployment.spec.template.spec;
    assert.equal(pod.serviceAccountName, 'berth-gateway');
    assert.equal(pod.containers[0]?.readinessProbe.httpGet.path, '/_berth/healthz');
    assert.equal(pod.containers[0]?.livenessProbe.httpGet.path, '/_berth/healthz');
  });

  it('ships a gateway config the schema accepts, for the kubernetes runtime', async () => {
    const config = (await rendered).find((d) => d.kind === 'ConfigMap') as Doc & { data: { 'berth.yaml': string } };
    const parsed = configSchema.parse(parseAllDocuments(config.data['berth.yaml'])[0]?.toJS());
    assert.equal(parsed.runtime.kind, 'kubernetes');
    assert.equal(parsed.runtime.kubernetes.namespace, 'berth');
  });

  it('grants in its Role exactly the permissions the runtime uses', async () => {
    const role = (await rendered).find((d) => d.kind === 'Role') as Doc & { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> };
    const granted = role.rules.flatMap((rule) => rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${verb} ${resource}`))).sort();
    assert.deepEqual(granted, NEEDED.map(permissionName).sort());
    for (const rule of role.rules) {
      const group = rule.resources.includes('networkpolicies') ? 'networking.k8s.io' : '';
      assert.deepEqual(rule.apiGroups, [group], `${rule.resources.join(',')} in API group "${group}" only`);
    }
  });

  it('ships the NetworkPolicy the runtime creates', async () => {
    const shipped = (await rendered).find((d) => d.kind === 'NetworkPolicy') as Doc & { spec: unknown };
    const config = configSchema.parse({ runtime: { kind: 'kubernetes' } }).runtime.kubernetes;
    const made = networkPolicyManifest({ config, instanceId: 'x', stopGraceSeconds: 10, gatewayNamespace: 'berth' });
    assert.equal(shipped.metadata.name, made.metadata?.name);
    const wire = JSON.parse(JSON.stringify(made.spec).replace(/"_from"/g, '"from"')) as unknown;
    assert.deepEqual(shipped.spec, wire);
  });
});

/*
 * The kinds the fake serves, with what discovery says about them. Only
 * these: what the kubernetes runtime uses, and what kubectl needs to get,
 * apply, wait, read logs, exec and port-forward against them.
 */

export interface Resource {
  /** The plural in the URL: "pods". */
  name: string;
  kind: string;
  group: '' | 'networking.k8s.io' | 'authorization.k8s.io';
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
}

const CRUD = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export const RESOURCES: Resource[] = [
  { name: 'namespaces', kind: 'Namespace', group: '', namespaced: false, verbs: CRUD, shortNames: ['ns'] },
  { name: 'pods', kind: 'Pod', group: '', namespaced: true, verbs: CRUD, shortNames: ['po'] },
  { name: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', group: '', namespaced: true, verbs: CRUD, shortNames: ['pvc'] },
  { name: 'secrets', kind: 'Secret', group: '', namespaced: true, verbs: CRUD },
  { name: 'events', kind: 'Event', group: '', namespaced: true, verbs: CRUD, shortNames: ['ev'] },
  { name: 'networkpolicies', kind: 'NetworkPolicy', group: 'networking.k8s.io', namespaced: true, verbs: CRUD, shortNames: ['netpol'] },
  { name: 'selfsubjectaccessreviews', kind: 'SelfSubjectAccessReview', group: 'authorization.k8s.io', namespaced: false, verbs: ['create'] },
];

/** Subresources discovery lists under /api/v1. */
const POD_SUBRESOURCES = [
  { name: 'pods/exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
  { name: 'pods/attach', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
  { name: 'pods/portforward', kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
  { name: 'pods/log', kind: 'Pod', verbs: ['get'] },
  { name: 'pods/status', kind: 'Pod', verbs: ['get', 'patch', 'update'] },
];

export function groupVersion(group: Resource['group']): string {
  return group ? `${group}/v1` : 'v1';
}

export function resourceList(group: Resource['group']): object {
  const own = RESOURCES.filter((r) => r.group === group).map((r) => ({
    name: r.name,
    singularName: r.kind.toLowerCase(),
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: r.verbs,
    ...(r.shortNames ? { shortNames: r.shortNames } : {}),
  }));
  const sub = group === '' ? POD_SUBRESOURCES.map((s) => ({ ...s, singularName: '', namespaced: true })) : [];
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion(group), resources: [...own, ...sub] };
}

export function groupList(): object {
  const groups = ['networking.k8s.io', 'authorization.k8s.io'].map((name) => ({
    name,
    versions: [{ groupVersion: `${name}/v1`, version: 'v1' }],
    preferredVersion: { groupVersion: `${name}/v1`, version: 'v1' },
  }));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function findResource(group: string, name: string): Resource | undefined {
  return RESOURCES.find((r) => r.group === group && r.name === name);
}

/**
 * The OpenAPI v3 documents kubectl reads before it sends an object: only the
 * part that says the server validates fields itself (the fieldValidation
 * query parameter on each kind's PATCH), so kubectl leaves validation to the
 * server instead of downloading a full schema. The fake accepts any field.
 */
export function openApiRoot(): object {
  return { paths: Object.fromEntries(['', 'networking.k8s.io', 'authorization.k8s.io'].map((g) => [g ? `apis/${g}/v1` : 'api/v1', { serverRelativeURL: `/openapi/v3/${g ? `apis/${g}/v1` : 'api/v1'}` }])) };
}

export function openApiGroup(group: Resource['group']): object {
  const paths: Record<string, object> = {};
  for (const r of RESOURCES.filter((x) => x.group === group)) {
    const base = `/${group ? `apis/${group}` : 'api'}/v1${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.name}/{name}`;
    const gvk = { group, version: 'v1', kind: r.kind };
    const params = [{ name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } }];
    paths[base] = {
      get: { 'x-kubernetes-group-version-kind': gvk, 'x-kubernetes-action': 'get', responses: {} },
      patch: { 'x-kubernetes-group-version-kind': gvk, 'x-kubernetes-action': 'patch', parameters: params, responses: {} },
      put: { 'x-kubernetes-group-version-kind': gvk, 'x-kubernetes-action': 'put', parameters: params, responses: {} },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes (fake)', version: 'v1.32.0' }, paths, components: { schemas: {} } };
}

import type { AuthorizationV1Api } from '@kubernetes/client-node';

/** Every API permission the runtime uses, in the namespace of its berths; deploy/kubernetes/rbac.yaml grants exactly these. */
export const NEEDED: ReadonlyArray<{ verb: string; resource: string; subresource?: string; group?: string }> = [
  ...['get', 'list', 'watch', 'create', 'delete'].map((verb) => ({ verb, resource: 'pods' })),
  { verb: 'create', resource: 'pods', subresource: 'exec' },
  { verb: 'get', resource: 'pods', subresource: 'exec' },
  { verb: 'create', resource: 'pods', subresource: 'portforward' },
  { verb: 'get', resource: 'pods', subresource: 'portforward' },
  { verb: 'get', resource: 'pods', subresource: 'log' },
  ...['get', 'create'].map((verb) => ({ verb, resource: 'persistentvolumeclaims' })),
  ...['list'].map((verb) => ({ verb, resource: 'events' })),
  ...['create', 'update', 'delete'].map((verb) => ({ verb, resource: 'secrets' })),
  ...['get', 'create'].map((verb) => ({ verb, resource: 'networkpolicies', group: 'networking.k8s.io' })),
];

export interface PermissionReport {
  granted: string[];
  missing: string[];
}

export function permissionName(p: (typeof NEEDED)[number]): string {
  return `${p.verb} ${p.resource}${p.subresource ? `/${p.subresource}` : ''}`;
}

/** Asks the API server, with SelfSubjectAccessReviews, which of the needed permissions the gateway's account holds. */
export async function checkPermissions(api: AuthorizationV1Api, namespace: string): Promise<PermissionReport> {
  const answers = await Promise.all(
    NEEDED.map(async (p) => {
      const review = await api.createSelfSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { namespace, verb: p.verb, resource: p.resource, subresource: p.subresource, group: p.group ?? '' } },
        },
      });
      return { name: permissionName(p), allowed: review.status?.allowed === true };
    }),
  );
  return { granted: answers.filter((a) => a.allowed).map((a) => a.name), missing: answers.filter((a) => !a.allowed).map((a) => a.name) };
}

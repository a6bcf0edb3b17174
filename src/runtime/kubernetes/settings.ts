import type { Config } from '../../config/schema.js';

/** What the manifests need from runtime.kubernetes, plus who the gateway is. */
export type KubernetesConfig = Config['runtime']['kubernetes'];

export interface ManifestContext {
  config: KubernetesConfig;
  /** Written on every pod and claim as berth.instance. */
  instanceId: string;
  /** spawn.stopGraceSeconds: the pod's termination grace. */
  stopGraceSeconds: number;
  /** Where the gateway's pods run, for the NetworkPolicy's namespace selector. */
  gatewayNamespace: string;
}

import { existsSync, readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { BerthError } from '../../core/errors.js';
import type { KubernetesConfig } from './settings.js';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export interface LoadedKubeConfig {
  kc: KubeConfig;
  /** The gateway runs in a pod of the cluster (the service account's credentials). */
  inCluster: boolean;
  /** e.g. "https://10.0.0.1:443", for messages. */
  server: string;
  /** Where the gateway's own pods are, for the NetworkPolicy. */
  gatewayNamespace: string;
}

/**
 * runtime.kubernetes.kubeconfig null: the in-cluster service account when
 * the gateway runs in a pod, else $KUBECONFIG, else ~/.kube/config; a path:
 * that file. runtime.kubernetes.context picks a context in it.
 */
export function loadKubeConfig(config: KubernetesConfig, env: NodeJS.ProcessEnv = process.env): LoadedKubeConfig {
  const kc = new KubeConfig();
  const inCluster = config.kubeconfig === null && Boolean(env.KUBERNETES_SERVICE_HOST) && existsSync(SERVICE_ACCOUNT_NAMESPACE);
  try {
    if (config.kubeconfig !== null) kc.loadFromFile(config.kubeconfig);
    else if (inCluster) kc.loadFromCluster();
    else kc.loadFromDefault();
    if (config.context !== null) {
      if (!kc.getContextObject(config.context)) throw new Error(`it has no context "${config.context}" (contexts: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
      kc.setCurrentContext(config.context);
    }
  } catch (err) {
    throw new BerthError({
      code: 'config_invalid',
      userMessage: `runtime.kubernetes: cannot use the kubeconfig ${config.kubeconfig ?? env.KUBECONFIG ?? '~/.kube/config'}: ${(err as Error).message}; set runtime.kubernetes.kubeconfig and context to a working one.`,
      cause: err,
    });
  }
  const server = kc.getCurrentCluster()?.server;
  if (!server) {
    throw new BerthError({
      code: 'config_invalid',
      userMessage: 'runtime.kubernetes: the kubeconfig names no cluster; set runtime.kubernetes.kubeconfig (or KUBECONFIG) to a file with one, or run the gateway in the cluster.',
    });
  }
  const gatewayNamespace = inCluster ? readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim() : config.namespace;
  return { kc, inCluster, server, gatewayNamespace };
}

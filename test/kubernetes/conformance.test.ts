import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { KubernetesRuntime } from '../../src/runtime/kubernetes/kubernetesRuntime.js';
import { berthSpecFor } from '../../src/runtime/spec.js';
import { describeRuntimeConformance } from '../conformance/runtime.js';
import { LOOPBACK_SERVER, runPrefix, withEngine } from '../helpers/docker.js';
import { kubeHarness, SERVER } from './harness.js';

/*
 * The runtime conformance suite on the kubernetes runtime, through the real
 * client-node: against the fake API server whose pods are Docker containers,
 * in both reach modes; or, with BERTH_TEST_KUBECONFIG set (npm run
 * test:kubernetes), against that real cluster instead.
 */

const realCluster = process.env.BERTH_TEST_KUBECONFIG;

/** Pods are kept apart by the NetworkPolicy, which the cluster's network plugin enforces, not the runtime. */
const writesHomeFiles = { skip: 'the kubernetes runtime refuses a config webhook\'s files: it has no way into the home before the pod runs yet' };
const isolatesBerths = {
  skip: "the NetworkPolicy that keeps berth pods apart is enforced by the cluster's network plugin, not by the runtime; test/kubernetes/runtime.test.ts checks the policy the runtime creates",
};

if (realCluster) {
  const namespace = process.env.BERTH_TEST_NAMESPACE ?? 'berth-test';
  const reach = (process.env.BERTH_TEST_REACH ?? 'portForward') as 'podIP' | 'portForward';
  describeRuntimeConformance(`kubernetes, reach ${reach} (cluster of ${realCluster}, namespace ${namespace})`, async () => {
    const instanceId = runPrefix();
    const kubernetes = configSchema.parse({ runtime: { kind: 'kubernetes', kubernetes: { kubeconfig: realCluster, namespace, reach, namePrefix: instanceId } } }).runtime.kubernetes;
    const runtime = new KubernetesRuntime({ kubernetes, instanceId, stopGraceSeconds: 2, spawnTimeoutSeconds: 120, logger: createLogger('warn') });
    const image = process.env.BERTH_TEST_IMAGE ?? 'busybox:1.36';
    return {
      runtime,
      specFor: (user, command) => berthSpecFor(configSchema.parse({ environment: { image, command } }), user),
      serverCommand: SERVER,
      loopbackServerCommand: LOOPBACK_SERVER,
      stopDeletes: true,
      isolatesBerths,
      writesHomeFiles,
      cleanup: async () => {
        await runtime.close();
        const kc = new KubeConfig();
        kc.loadFromFile(realCluster);
        const core = kc.makeApiClient(CoreV1Api);
        const labelSelector = `berth.instance=${instanceId}`;
        await core.deleteCollectionNamespacedPod({ namespace, labelSelector, gracePeriodSeconds: 0 });
        await core.deleteCollectionNamespacedPersistentVolumeClaim({ namespace, labelSelector });
      },
    };
  });
} else {
  await withEngine('kubernetes runtime conformance', () => {
    for (const reach of ['podIP', 'portForward'] as const) {
      describeRuntimeConformance(`kubernetes, reach ${reach} (fake API server)`, async () => {
        const harness = await kubeHarness();
        return {
          runtime: harness.makeRuntime({ reach }),
          specFor: (user, command) => harness.specFor(user, command),
          serverCommand: SERVER,
      loopbackServerCommand: LOOPBACK_SERVER,
          stopDeletes: true,
          isolatesBerths,
          writesHomeFiles,
          cleanup: () => harness.cleanup(),
        };
      });
    }
  });
}

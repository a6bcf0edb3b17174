import { describeRuntimeConformance } from '../conformance/runtime.js';
import { withEngine } from '../helpers/docker.js';
import { kubeHarness, SERVER } from './harness.js';

/*
 * The runtime conformance suite on the kubernetes runtime, through the real
 * client-node against the fake API server whose pods are Docker containers.
 */
await withEngine('kubernetes runtime conformance', () => {
  for (const reach of ['podIP', 'portForward'] as const) {
    describeRuntimeConformance(`kubernetes, reach ${reach} (fake API server)`, async () => {
      const harness = await kubeHarness();
      return {
        runtime: harness.makeRuntime({ reach }),
        specFor: (user, command) => harness.specFor(user, command),
        serverCommand: SERVER,
        stopDeletes: true,
        cleanup: () => harness.cleanup(),
      };
    });
  }
});

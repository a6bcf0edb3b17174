import { startGateway } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config/load.js';

/**
 * The whole gateway as `berth serve` wires it (HTTP, SSH, spawner, culler),
 * configured from BERTH_* variables, for benches that need it in a process
 * of its own. Prints "listening on http://…" once both listeners are up;
 * shuts down in order on SIGTERM.
 */
const gateway = await startGateway(loadConfig(), 'bench');
const { host, port } = gateway.httpAddress;
console.log(`gateway listening on http://${host}:${port}`);

process.once('SIGTERM', () => {
  void gateway.shutdown().then(() => process.exit(0));
});

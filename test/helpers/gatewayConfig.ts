import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';

/**
 * Writes the berth.yaml of a gateway a test runs with `berth serve --config`:
 * its data beside the file, no SSH listener, warnings only, quick stops,
 * then the test's own settings over those (top-level keys replace).
 */
export function writeGatewayConfig(file: string, settings: Record<string, unknown>): void {
  const defaults = { dataDir: join(dirname(file), 'data'), listen: { ssh: null }, log: { level: 'warn' }, spawn: { stopGraceSeconds: 1 } };
  writeFileSync(file, stringify({ ...defaults, ...settings }));
}

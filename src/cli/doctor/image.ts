import type { Config } from '../../config/schema.js';
import { engineMessage, engineStatus } from '../../runtime/docker/engineErrors.js';
import { dockerClient } from './runtime.js';
import { fail, ok, skip, warn, withTimeout, type CheckResult } from './types.js';

const CHECK = 'image';

/** Whether environment.image is on the engine, or at least pullable from its registry (asked without pulling). */
export async function imageCheck(config: Config): Promise<CheckResult> {
  const image = config.environment.image;
  if (config.runtime.kind === 'local') return skip(CHECK, 'local: berths run environment.command, not an image');
  if (image === null) return fail(CHECK, `runtime.kind ${config.runtime.kind} needs environment.image, and none is set`, 'set environment.image (BERTH_ENVIRONMENT_IMAGE), e.g. "jupyter/base-notebook:latest"');
  if (config.runtime.kind === 'kubernetes') return skip(CHECK, `kubernetes: the nodes pull ${image}; not checked from here`);
  const made = dockerClient(config);
  if ('problem' in made) return skip(CHECK, 'the engine cannot be reached (see runtime)');
  try {
    await withTimeout(`the engine at ${made.description}`, made.client.getImage(image).inspect());
    return ok(CHECK, `${image} is on the engine`);
  } catch (err) {
    if (engineStatus(err) !== 404) return skip(CHECK, `the engine cannot be asked about ${image} (see runtime): ${engineMessage(err)}`);
  }
  try {
    // The engine asks the registry for the manifest only: nothing is downloaded.
    await withTimeout(`the registry of ${image}`, made.client.getImage(image).distribution({}), 15_000);
    return warn(CHECK, `${image} is not on the engine yet, but its registry has it: the first login will wait for the pull`, `pull it ahead of the first login: docker pull ${image}`);
  } catch (err) {
    return fail(
      CHECK,
      `${image} is neither on the engine nor pullable: ${engineMessage(err).split('\n')[0]}`,
      `load or build it on the engine (docker pull ${image}, docker load, docker build -t ${image} …), give the engine credentials for its registry (docker login), or set environment.image to an image the engine has`,
    );
  }
}

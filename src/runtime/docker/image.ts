import type Docker from 'dockerode';
import { BerthError } from '../../core/errors.js';
import type { RuntimeProgress } from '../types.js';
import { engineMessage, isUnreachable, unlessMissing } from './engineErrors.js';
import { jsonLines } from './jsonLines.js';

const PROGRESS_EVERY_MS = 500;
/** The statuses a pull reports per layer (others name the image or its digest). */
const LAYER_STATUS = /^(Pulling fs layer|Waiting|Downloading|Verifying Checksum|Download complete|Extracting|Pull complete|Already exists)$/;

/** Makes sure `image` is present, pulling it with progress when it is not; resolves with whether it pulled. */
export async function ensureImage(docker: Docker, image: string, progress: RuntimeProgress): Promise<'present' | 'pulled'> {
  if ((await unlessMissing(docker.getImage(image).inspect())) !== null) return 'present';
  progress('pulling', `pulling image ${image}`);
  try {
    await pull(docker, image, progress);
    return 'pulled';
  } catch (err) {
    if (isUnreachable(err)) throw err;
    const line = `image ${image} not found locally and could not be pulled: ${engineMessage(err).split('\n')[0]}`;
    throw new BerthError({ code: 'spawn_failed', userMessage: `${line}. Ask the operator to check environment.image.`, logMessage: line, cause: err });
  }
}

/** Follows a pull, summing layer progress into one line at most every PROGRESS_EVERY_MS. */
async function pull(docker: Docker, image: string, progress: RuntimeProgress): Promise<void> {
  const stream = await docker.pull(image);
  const layers = new Map<string, { current: number; total: number; done: boolean }>();
  let lastReport = 0;
  for await (const event of jsonLines(stream)) {
    if (typeof event.error === 'string') throw new Error(event.error);
    const id = typeof event.id === 'string' ? event.id : null;
    const status = typeof event.status === 'string' ? event.status : '';
    if (!id || !LAYER_STATUS.test(status)) continue;
    const layer = layers.get(id) ?? { current: 0, total: 0, done: false };
    const detail = event.progressDetail as { current?: number; total?: number } | undefined;
    if (status === 'Downloading' && detail?.total) {
      layer.total = detail.total;
      layer.current = detail.current ?? 0;
    }
    if (status === 'Download complete') layer.current = layer.total;
    if (status === 'Pull complete' || status === 'Already exists') layer.done = true;
    layers.set(id, layer);
    const now = Date.now();
    if (now - lastReport < PROGRESS_EVERY_MS) continue;
    lastReport = now;
    const all = [...layers.values()];
    const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
    const got = all.reduce((sum, l) => sum + l.current, 0);
    const total = all.reduce((sum, l) => sum + l.total, 0);
    progress('pulling', `pulling ${image}: ${all.filter((l) => l.done).length} of ${all.length} layers done, ${mb(got)} of ${mb(total)} MB downloaded`);
  }
}

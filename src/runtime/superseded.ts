import { BerthError } from '../core/errors.js';

/**
 * The label a berth's container or pod carries with the generation of the
 * spawn lease under which it was made (several gateways on one store,
 * src/store/spawnLeases.ts): a fencing token, so a gateway whose lease was
 * taken over never replaces what the newer holder made.
 */
export const GENERATION_LABEL = 'berth.generation';

/** Labels for a berth made under `generation`; none where one gateway alone spawns. */
export function generationLabels(generation: number | undefined): Record<string, string> {
  return generation === undefined ? {} : { [GENERATION_LABEL]: String(generation) };
}

/**
 * Refuses (BerthError 'spawn_superseded') when the berth found, carrying
 * `labels`, was made under a newer spawn lease than `generation`: this
 * gateway has lost its lease, so it leaves the berth alone.
 */
export function refuseIfSuperseded(labels: Readonly<Record<string, string>> | undefined, name: string, generation: number | undefined): void {
  const made = Number(labels?.[GENERATION_LABEL] ?? 0);
  if (generation === undefined || !(made > generation)) return;
  throw new BerthError({
    code: 'spawn_superseded',
    userMessage: 'Another gateway took over starting your environment; this page follows it.',
    logMessage: `berth ${name} was made under spawn lease generation ${made}, newer than this gateway's ${generation}: its lease was taken over, so it leaves it alone`,
  });
}

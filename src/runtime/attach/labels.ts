import type Docker from 'dockerode';
import { BerthError } from '../../core/errors.js';
import { parseUsername, safeName } from '../../core/safeName.js';

/** Which containers are berths: attach.userLabel names the user, attach.requireLabel ("key=value") marks the container as meant for it. */
export interface AttachLabels {
  userLabel: string;
  requireLabel: string;
}

/** A container that carries both labels, as the engine's list shows it. */
export interface Candidate {
  id: string;
  /** The container's name without the leading slash, for messages. */
  containerName: string;
  /** The username the label gives, in NFC; null when it is no username the gateway accepts. */
  user: string | null;
  running: boolean;
}

/** The engine's label filter for containers that may be berths: the marker, and a user label of any value. */
export function labelFilter(labels: AttachLabels): { label: string[] } {
  return { label: [labels.requireLabel, labels.userLabel] };
}

export function candidateOf(summary: Docker.ContainerInfo, labels: AttachLabels): Candidate {
  const raw = summary.Labels[labels.userLabel] ?? '';
  const parsed = parseUsername(raw);
  return {
    id: summary.Id,
    containerName: (summary.Names[0] ?? summary.Id).replace(/^\//, ''),
    user: 'name' in parsed ? parsed.name : null,
    running: summary.State === 'running',
  };
}

/** The safe name of the berth a user label names, or null when it names no username the gateway accepts. */
export function berthNameOf(label: string | undefined): string | null {
  const parsed = parseUsername(label ?? '');
  return 'name' in parsed ? safeName(parsed.name) : null;
}

/** Whether a candidate is the berth with safe name `name` (safe names are injective, so this is the user's). */
export function isBerth(candidate: Candidate, name: string): boolean {
  return candidate.user !== null && safeName(candidate.user) === name;
}

/**
 * The one running container of a user among their candidates, or the
 * refusal the user sees (loading page, SSH, API): it names the labels and
 * what was found, and says who can fix it.
 */
export function theOne(user: string, candidates: readonly Candidate[], labels: AttachLabels): Candidate {
  const running = candidates.filter((c) => c.running);
  const wanted = `the labels ${labels.userLabel}=${user} and ${labels.requireLabel}`;
  if (running.length === 1) return running[0] as Candidate;
  if (running.length === 0) {
    const stopped = candidates.length === 0 ? '' : ` (found ${candidates.length} not running: ${names(candidates)})`;
    throw new BerthError({
      code: 'spawn_failed',
      userMessage: `No running container carries ${wanted}${stopped}. Berth attaches to a container something else runs: ask whoever runs yours to start it with those labels.`,
      logMessage: `attach: no running container for ${user} with ${wanted}${stopped}`,
    });
  }
  throw new BerthError({
    code: 'spawn_failed',
    userMessage: `${running.length} running containers carry ${wanted} (${names(running)}); Berth attaches to exactly one. Ask whoever runs them to remove those labels from all but one.`,
    logMessage: `attach: ${running.length} running containers for ${user} with ${wanted}: ${names(running)}`,
  });
}

function names(candidates: readonly Candidate[]): string {
  return candidates.map((c) => `${c.containerName} (${c.id.slice(0, 12)})`).join(', ');
}

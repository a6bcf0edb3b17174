import type Docker from 'dockerode';
import type { Observed, ObservedState } from '../types.js';
import { LABEL } from './names.js';

export function absent(name: string): Observed {
  return { name, user: '', state: 'absent', id: null, exitCode: null, startedAt: null, finishedAt: null, specHash: null, image: null };
}

/**
 * What a container says about its berth. Docker does not record who stopped
 * a container, so `stoppedOnRequest` (known to the runtime that stopped it)
 * tells a requested stop ('stopped') from an exit of its own ('exited').
 */
export function observe(name: string, info: Docker.ContainerInspectInfo, stoppedOnRequest: boolean): Observed {
  const state = observedState(info.State.Status, stoppedOnRequest);
  return {
    name,
    user: info.Config.Labels[LABEL.user] ?? '',
    state,
    id: info.Id,
    exitCode: state === 'exited' || state === 'stopped' ? info.State.ExitCode : null,
    startedAt: engineTime(info.State.StartedAt),
    finishedAt: state === 'running' || state === 'paused' ? null : engineTime(info.State.FinishedAt),
    specHash: info.Config.Labels[LABEL.spec] ?? null,
    image: info.Config.Labels[LABEL.image] ?? info.Config.Image,
  };
}

function observedState(status: string, stoppedOnRequest: boolean): ObservedState {
  switch (status) {
    case 'running':
    case 'restarting':
      return 'running';
    case 'paused':
      return 'paused';
    case 'exited':
    case 'dead':
    // Podman's word for a container whose process ended, until its clean-up makes it "exited".
    case 'stopped':
      return stoppedOnRequest ? 'stopped' : 'exited';
    default:
      // 'created' (never started) and 'removing'.
      return 'stopped';
  }
}

/** Docker reports "0001-01-01T00:00:00Z" for a time that has not happened. */
export function engineTime(text: string | undefined): number | null {
  if (!text || text.startsWith('0001-')) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

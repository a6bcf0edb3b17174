import type { CoreV1Event, V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { signalOfExitCode, type ExitFacts } from '../../core/exit.js';
import type { Observed, ObservedState, RuntimeProgress } from '../types.js';
import { ANNOTATION, LABEL } from './names.js';

/*
 * What a pod says about its berth, in Berth's words: the Observed state, the
 * progress its events describe, and the failure (with Kubernetes' own reason
 * and message) that means waiting longer will not help.
 */

/** Times come as Date from client-node's typed calls and as text from a watch. */
export function time(value: Date | string | undefined | null): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms;
}

export function absent(name: string): Observed {
  return { name, user: '', state: 'absent', id: null, exitCode: null, startedAt: null, finishedAt: null, specHash: null, image: null };
}

export function mainStatus(pod: V1Pod): V1ContainerStatus | undefined {
  return pod.status?.containerStatuses?.[0];
}

/** The container runs (not merely the pod's phase): only then can exec, ports and logs work. */
export function isRunning(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && pod.status?.phase === 'Running' && mainStatus(pod)?.state?.running !== undefined;
}

/** The berth's process ended and the pod will not bring it back (restartPolicy Never), or restarts it in a loop. */
export function exitOf(pod: V1Pod): { exitCode: number | null; reason: string } | null {
  const status = mainStatus(pod);
  const terminated = status?.state?.terminated;
  if (terminated) return { exitCode: terminated.exitCode, reason: terminated.reason ?? 'Error' };
  if (status?.state?.waiting?.reason === 'CrashLoopBackOff') {
    const last = status.lastState?.terminated;
    return { exitCode: last?.exitCode ?? null, reason: last?.reason === 'OOMKilled' ? 'OOMKilled' : 'CrashLoopBackOff' };
  }
  if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') return { exitCode: null, reason: pod.status.reason ?? pod.status.phase };
  return null;
}

/** Kubernetes' words for an end that the exit code alone says nothing more about. */
const PLAIN_ENDS = new Set(['Error', 'Completed']);

/** How the berth's process ended, for onExit: the code, the signal it stands for, and Kubernetes' reason where it tells more. */
export function exitFactsOf(pod: V1Pod): ExitFacts | null {
  const exit = exitOf(pod);
  if (!exit) return null;
  return { exitCode: exit.exitCode, signal: signalOfExitCode(exit.exitCode), oomKilled: exit.reason === 'OOMKilled', reason: PLAIN_ENDS.has(exit.reason) ? null : exit.reason };
}

export function observe(name: string, pod: V1Pod, stoppedOnRequest: boolean): Observed {
  const exit = exitOf(pod);
  const state: ObservedState = isRunning(pod) ? 'running' : exit && !stoppedOnRequest ? 'exited' : 'stopped';
  const status = mainStatus(pod);
  return {
    name,
    user: pod.metadata?.annotations?.[ANNOTATION.username] ?? '',
    state,
    id: pod.metadata?.uid ?? null,
    exitCode: state === 'running' ? null : (exit?.exitCode ?? null),
    startedAt: time(status?.state?.running?.startedAt ?? status?.state?.terminated?.startedAt),
    finishedAt: state === 'running' ? null : time(status?.state?.terminated?.finishedAt),
    specHash: pod.metadata?.annotations?.[ANNOTATION.spec] ?? null,
    image: pod.spec?.containers[0]?.image ?? null,
  };
}

export function berthNameOf(pod: V1Pod): string | undefined {
  return pod.metadata?.labels?.[LABEL.user];
}

/** Container states that no wait will mend; the next request may try again. */
const FATAL_WAITING = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

export interface PodFailure {
  reason: string;
  message: string;
}

/** Why a starting pod will not run, in Kubernetes' words; null while it may still come up. */
export function startFailure(pod: V1Pod): PodFailure | null {
  const waiting = mainStatus(pod)?.state?.waiting;
  if (waiting?.reason && FATAL_WAITING.has(waiting.reason)) return { reason: waiting.reason, message: waiting.message ?? waiting.reason };
  return null;
}

/** Why a pod has not been scheduled yet (Unschedulable, an unbound claim), for progress and the timeout's message. */
export function pendingReason(pod: V1Pod): PodFailure | null {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') return { reason: scheduled.reason ?? 'Unschedulable', message: scheduled.message ?? 'the pod cannot be scheduled' };
  return null;
}

/** A pod event as a progress step: scheduling and creation, pulling, starting. */
export function reportEvent(event: CoreV1Event, progress: RuntimeProgress): void {
  const reason = event.reason ?? '';
  const text = `${reason}: ${event.message ?? ''}`.trim();
  if (reason === 'Pulling' || reason === 'Pulled') progress('pulling', text);
  else if (reason === 'Started') progress('starting', text);
  else progress('creating', text);
}

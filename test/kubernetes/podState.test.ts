import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { exitFactsOf, exitOf, observe, pendingReason, reportEvent, startFailure } from '../../src/runtime/kubernetes/podState.js';

function pod(status: V1Pod['status'], extra: Partial<V1Pod['metadata']> = {}): V1Pod {
  return {
    metadata: { name: 'berth-ada', uid: 'u1', annotations: { 'berth.username': 'Ada', 'berth.spec': 'h1' }, ...extra },
    spec: { containers: [{ name: 'berth', image: 'img' }] },
    status,
  };
}

describe('kubernetes pod state', () => {
  it('is running only when the container runs and the pod is not being deleted', () => {
    const running = pod({ phase: 'Running', containerStatuses: [{ name: 'berth', image: 'img', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: new Date('2026-01-01T00:00:00Z') } } }] });
    assert.deepEqual(observe('ada', running, false), { name: 'ada', user: 'Ada', state: 'running', id: 'u1', exitCode: null, startedAt: Date.parse('2026-01-01T00:00:00Z'), finishedAt: null, specHash: 'h1', image: 'img' });
    const deleting = { ...running, metadata: { ...running.metadata, deletionTimestamp: new Date() } };
    assert.equal(observe('ada', deleting, true).state, 'stopped');
    assert.equal(observe('ada', pod({ phase: 'Pending' }), false).state, 'stopped');
  });

  it('reads an exit with its code, OOMKilled, and a crash loop with the last exit', () => {
    const terminated = (reason: string, exitCode: number) => pod({ phase: 'Failed', containerStatuses: [{ name: 'berth', image: 'img', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode, reason } } }] });
    assert.deepEqual(exitOf(terminated('Error', 3)), { exitCode: 3, reason: 'Error' });
    assert.deepEqual(exitOf(terminated('OOMKilled', 137)), { exitCode: 137, reason: 'OOMKilled' });
    assert.equal(observe('ada', terminated('Error', 3), false).state, 'exited');
    assert.equal(observe('ada', terminated('Error', 3), true).state, 'stopped', 'a requested stop is no exit');
    const looping = pod({
      phase: 'Running',
      containerStatuses: [{ name: 'berth', image: 'img', imageID: '', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } }, lastState: { terminated: { exitCode: 1, reason: 'Error' } } }],
    });
    assert.deepEqual(exitOf(looping), { exitCode: 1, reason: 'CrashLoopBackOff' });
  });

  it('reports an exit with the signal its code stands for and the reason where it says more than the code', () => {
    const terminated = (reason: string, exitCode: number) => pod({ phase: 'Failed', containerStatuses: [{ name: 'berth', image: 'img', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode, reason } } }] });
    assert.deepEqual(exitFactsOf(terminated('OOMKilled', 137)), { exitCode: 137, signal: 'KILL', oomKilled: true, reason: 'OOMKilled' });
    assert.deepEqual(exitFactsOf(terminated('Error', 3)), { exitCode: 3, signal: null, oomKilled: false, reason: null });
    assert.deepEqual(exitFactsOf(terminated('Completed', 0)), { exitCode: 0, signal: null, oomKilled: false, reason: null });
    assert.deepEqual(exitFactsOf(terminated('ContainerCannotRun', 128)), { exitCode: 128, signal: null, oomKilled: false, reason: 'ContainerCannotRun' });
    const looping = pod({
      phase: 'Running',
      containerStatuses: [{ name: 'berth', image: 'img', imageID: '', ready: false, restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 20s' } }, lastState: { terminated: { exitCode: 2, reason: 'Error' } } }],
    });
    assert.deepEqual(exitFactsOf(looping), { exitCode: 2, signal: null, oomKilled: false, reason: 'CrashLoopBackOff' });
    assert.equal(exitFactsOf(pod({ phase: 'Running', containerStatuses: [{ name: 'berth', image: 'img', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] })), null);
  });

  it('fails at once on image pull errors and keeps waiting, with the reason, while unschedulable', () => {
    const waiting = (reason: string) => pod({ phase: 'Pending', containerStatuses: [{ name: 'berth', image: 'img', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason, message: `${reason} detail` } } }] });
    assert.deepEqual(startFailure(waiting('ImagePullBackOff')), { reason: 'ImagePullBackOff', message: 'ImagePullBackOff detail' });
    assert.deepEqual(startFailure(waiting('ErrImagePull')), { reason: 'ErrImagePull', message: 'ErrImagePull detail' });
    assert.equal(startFailure(waiting('ContainerCreating')), null);
    const unschedulable = pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory.' }] });
    assert.deepEqual(pendingReason(unschedulable), { reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory.' });
    assert.equal(startFailure(unschedulable), null);
  });

  it('turns pod events into progress steps', () => {
    const steps: string[] = [];
    const event = (reason: string, message: string): CoreV1Event => ({ metadata: {}, involvedObject: {}, reason, message });
    for (const e of [event('Scheduled', 'Successfully assigned b/x to n1'), event('Pulling', 'Pulling image "i"'), event('Pulled', 'done'), event('Created', 'c'), event('Started', 's')]) reportEvent(e, (step, text) => steps.push(`${step}|${text}`));
    assert.deepEqual(steps, ['creating|Scheduled: Successfully assigned b/x to n1', 'pulling|Pulling: Pulling image "i"', 'pulling|Pulled: done', 'creating|Created: c', 'starting|Started: s']);
  });
});

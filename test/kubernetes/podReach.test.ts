import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { podListeningPorts, type KubernetesReach } from '../../src/runtime/kubernetes/podReach.js';

/** Which of the ports the gateway can reach, by listeners (address, port) and reach mode. */
function reachable(list: Array<[string, number]>, reach: KubernetesReach): Record<number, boolean> {
  const ports = podListeningPorts(
    list.map(([address, port]) => ({ address, port })),
    reach,
  );
  return Object.fromEntries(ports.map((p) => [p.port, p.unreachable === undefined]));
}

describe('which pod listeners the gateway reaches', () => {
  it('reaches wildcard and localhost listeners in both modes, another loopback address in neither', () => {
    const list: Array<[string, number]> = [
      ['0.0.0.0', 1],
      ['::', 2],
      ['127.0.0.1', 3],
      ['::1', 4],
      ['::ffff:127.0.0.1', 5],
      ['127.0.0.2', 6],
      ['127.255.0.1', 7],
    ];
    const expected = { 1: true, 2: true, 3: true, 4: true, 5: true, 6: false, 7: false };
    assert.deepEqual(reachable(list, 'podIP'), expected);
    assert.deepEqual(reachable(list, 'portForward'), expected);
  });

  it("reaches a listener on the pod's own address only by podIP: the port-forward dials localhost", () => {
    assert.deepEqual(reachable([['10.1.2.3', 80], ['fd00::5', 81]], 'podIP'), { 80: true, 81: true });
    assert.deepEqual(reachable([['10.1.2.3', 80], ['fd00::5', 81]], 'portForward'), { 80: false, 81: false });
  });

  it('reaches a port when any one of its listeners is reachable', () => {
    assert.deepEqual(reachable([['127.0.0.2', 9], ['127.0.0.1', 9]], 'portForward'), { 9: true });
  });

  it('says what to do, naming where the berth listens', () => {
    const [port] = podListeningPorts([{ address: '127.0.0.2', port: 5173 }], 'podIP');
    assert.equal(port?.loopbackOnly, true);
    assert.match(port?.unreachable ?? '', /^Port 5173 listens only on 127\.0\.0\.2, .*listen on 127\.0\.0\.1 or on all addresses/);
  });
});

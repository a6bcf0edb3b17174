import { Duplex } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { frame, openChannelSocket } from './channelSocket.js';
import type { PodTarget } from './exec.js';

/**
 * A TCP stream to `port` inside the pod through the API's port-forward
 * (WebSocket, v4.channel.k8s.io: channel 0 data, 1 errors, the first frame
 * of each carrying the port). The kubelet dials inside the pod's network
 * namespace, so this reaches listeners on the pod's loopback too. The
 * protocol has no half-close: ending the stream's write side sends nothing,
 * the connection closes when the far side closes or the stream is destroyed.
 */
export async function forwardedStream(kc: KubeConfig, target: Omit<PodTarget, 'container'>, port: number): Promise<Duplex> {
  const path = `/api/v1/namespaces/${encodeURIComponent(target.namespace)}/pods/${encodeURIComponent(target.pod)}/portforward?ports=${port}`;
  const ws = await openChannelSocket(kc, path, ['v4.channel.k8s.io']);
  let dataPrefix = true;
  let errorPrefix = true;
  let error = '';
  const stream = new Duplex({
    read() {
      ws.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (ws.readyState !== ws.OPEN) return callback(new Error('the port-forward connection is closed'));
      ws.send(frame(0, chunk), (err) => callback(err ?? null));
    },
    // No half-close in the protocol: the far side's reply must still come, so ending the write side sends nothing.
    final(callback) {
      callback();
    },
    destroy(err, callback) {
      ws.terminate();
      callback(err);
    },
  });
  ws.on('message', (data: Buffer) => {
    let payload = data.subarray(1);
    if (data[0] === 0) {
      if (dataPrefix) {
        dataPrefix = false;
        payload = payload.subarray(2);
      }
      if (payload.length && !stream.push(payload)) ws.pause();
    } else if (data[0] === 1) {
      if (errorPrefix) {
        errorPrefix = false;
        payload = payload.subarray(2);
      }
      error += payload.toString('utf8');
    }
  });
  ws.on('error', (err) => stream.destroy(err));
  ws.on('close', () => {
    if (error) stream.destroy(Object.assign(new Error(error.trim()), { code: 'ECONNREFUSED' }));
    else stream.push(null);
  });
  return stream;
}

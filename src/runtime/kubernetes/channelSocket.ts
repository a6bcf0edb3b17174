import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';

/**
 * Opens a WebSocket to an API server path (exec, portforward) with the
 * kubeconfig's TLS settings and credentials, offering `protocols` in order of
 * preference. A refusal before the upgrade rejects with the HTTP status and
 * the API's Status body, as client-node's typed calls do, so apiErrors reads
 * both alike.
 */
export async function openChannelSocket(kc: KubeConfig, path: string, protocols: string[]): Promise<WebSocket> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig names no current cluster');
  const url = `${cluster.server.replace(/^http/, 'ws').replace(/\/+$/, '')}${path}`;
  const options: WebSocket.ClientOptions = {};
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode} from ${path.split('?')[0]}`), { code: res.statusCode, body })));
      res.on('error', reject);
    });
    ws.once('error', reject);
  });
}

/** One message of the channel protocols: the channel number, then the data. */
export function frame(channel: number, data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  const out = Buffer.allocUnsafe(payload.length + 1);
  out[0] = channel;
  payload.copy(out, 1);
  return out;
}

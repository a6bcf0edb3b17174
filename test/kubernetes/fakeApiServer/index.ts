import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { Kubelet } from './kubelet.js';
import { ApiServer } from './server.js';
import { Streams } from './streams.js';

/*
 * A FAKE Kubernetes API server, for tests on machines where no real one can
 * run. It is written from the API reference and serves what Berth's
 * kubernetes runtime and kubectl use (see ./resources.ts); its pods are real
 * Docker containers, so exec, ports and files are real. What it cannot show
 * — a real scheduler, CNI plugin, NetworkPolicy enforcement, RBAC, storage
 * provisioning, SPDY — only a real cluster can (npm run test:kubernetes).
 */

export interface FakeApiServerOptions {
  engine: Docker;
  /** Prefix of every container, volume and network it makes, unique per test run. */
  prefix: string;
  dir: string;
  namespaces?: string[];
  nodeLabels?: Record<string, string>;
  allocatableMemory?: number;
  bookmarkMs?: number;
}

export interface FakeApiServer {
  url: string;
  /** A kubeconfig file for the fake, context "fake". */
  kubeconfig: string;
  token: string;
  api: ApiServer;
  kubelet: Kubelet;
  streams: Streams;
  /** "verb resource[/sub]" that SelfSubjectAccessReviews deny. */
  denied: Set<string>;
  close(): Promise<void>;
}

export async function startFakeApiServer(options: FakeApiServerOptions): Promise<FakeApiServer> {
  const token = `fake-${options.prefix}`;
  const denied = new Set<string>();
  const tls = await selfSignedCertificate(options.dir);
  const api = new ApiServer({ token, bookmarkMs: options.bookmarkMs ?? 1000, denied, tls });
  const nodeName = 'fake-node-1';
  const kubelet = new Kubelet(api.store, {
    engine: options.engine,
    prefix: options.prefix,
    nodeName,
    dir: options.dir,
    nodeLabels: { 'kubernetes.io/hostname': nodeName, 'kubernetes.io/os': 'linux', ...options.nodeLabels },
    allocatableMemory: options.allocatableMemory ?? 8 * 2 ** 30,
  });
  const streams = new Streams(kubelet, options.engine);
  api.hooks = {
    podCreated: (pod) => kubelet.podCreated(pod),
    podDeleting: (pod, grace) => kubelet.podDeleting(pod, grace),
    subresource: (kind, namespace, name, req, socket, head) => streams.handle(kind, namespace, name, req, socket, head),
    log: (namespace, name, query, res) => void streams.log(namespace, name, query, res),
  };
  for (const name of ['default', ...(options.namespaces ?? [])]) {
    api.store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } }, status: { phase: 'Active' } });
  }
  await kubelet.start();
  await api.listen();
  const kubeconfig = join(options.dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: api.url, 'certificate-authority-data': Buffer.from(tls.cert).toString('base64') } }],
      users: [{ name: 'fake', user: { token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake', namespace: options.namespaces?.[0] ?? 'default' } }],
      'current-context': 'fake',
    }),
  );
  return {
    url: api.url,
    kubeconfig,
    token,
    api,
    kubelet,
    streams,
    denied,
    close: async () => {
      streams.close(true);
      await api.close();
      await kubelet.close();
    },
  };
}

/** A certificate for 127.0.0.1, made by openssl for this run only. */
async function selfSignedCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'apiserver.crt');
  const key = join(dir, 'apiserver.key');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=fake-kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert,
  ]);
  return { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
}

import Docker from 'dockerode';
import type { Config } from '../../config/schema.js';
import { readTlsFiles, type TlsFilePaths } from '../../config/tlsFiles.js';
import { BerthError } from '../../core/errors.js';
import { engineUnavailable } from './engineErrors.js';

export type DockerConfig = Config['runtime']['docker'];

/** How to reach the engine, and how to name it in messages. */
export interface EngineAddress {
  /** e.g. "unix:///var/run/docker.sock" or "tcp://10.0.0.5:2376 (TLS)". */
  description: string;
  local: boolean;
  options: Docker.DockerOptions;
}

const DEFAULT_SOCKET = 'unix:///var/run/docker.sock';

/**
 * docker-modem merges its own reading of DOCKER_* variables under whatever it
 * is given; these keys override that, so the address resolved here is the
 * only one used (and no client timeout cuts long event or exec streams).
 */
const NO_DEFAULTS: Docker.DockerOptions = {
  socketPath: undefined,
  host: undefined,
  port: undefined,
  protocol: 'http',
  timeout: undefined,
  ca: undefined,
  cert: undefined,
  key: undefined,
};

/**
 * Resolves the engine address from `runtime.docker.socket`, else DOCKER_HOST
 * (with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, as the docker CLI reads them),
 * else the default socket. Accepted forms: "/path", "unix:///path",
 * "tcp://host:port" (TLS when runtime.docker.tls names files, or from the
 * DOCKER_* variables).
 *
 * Podman serves the same API: run `podman system service` and point
 * runtime.docker.socket at unix:///run/podman/podman.sock (rootful) or
 * unix://$XDG_RUNTIME_DIR/podman/podman.sock (rootless; reach: auto picks
 * published there). The README's "Run on Podman" says what else it needs.
 */
export function engineAddress(config: DockerConfig, env: NodeJS.ProcessEnv = process.env): EngineAddress {
  const fromConfig = config.socket !== null;
  const text = config.socket ?? env.DOCKER_HOST ?? DEFAULT_SOCKET;
  const key = fromConfig ? 'runtime.docker.socket' : 'DOCKER_HOST';
  if (text.startsWith('/') || text.startsWith('unix://')) {
    const socketPath = text.startsWith('/') ? text : text.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw invalid(key, text);
    return { description: `unix://${socketPath}`, local: true, options: { ...NO_DEFAULTS, socketPath } };
  }
  if (!text.startsWith('tcp://')) throw invalid(key, text);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(key, text);
  }
  if (!url.hostname || !url.port) throw invalid(key, text);
  const tls = tlsFiles(config, env, fromConfig);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const base = `tcp://${url.host}`;
  if (!tls) return { description: base, local: false, options: { ...NO_DEFAULTS, host, port: url.port } };
  return {
    description: `${base} (TLS)`,
    local: false,
    options: { ...NO_DEFAULTS, host, port: url.port, protocol: 'https', ...readTlsFiles('runtime.docker.tls', tls) },
  };
}

function tlsFiles(config: DockerConfig, env: NodeJS.ProcessEnv, fromConfig: boolean): TlsFilePaths | null {
  const { ca, cert, key } = config.tls;
  if (ca || cert || key) return { ca, cert, key };
  if (fromConfig) return null;
  const dir = env.DOCKER_CERT_PATH;
  if (dir) return { ca: `${dir}/ca.pem`, cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
  return env.DOCKER_TLS_VERIFY === '1' ? { ca: null, cert: null, key: null } : null;
}

function invalid(key: string, value: string): BerthError {
  return new BerthError({
    code: 'config_invalid',
    userMessage: `${key}: expected "unix:///path/to/docker.sock", "/path/to/docker.sock" or "tcp://host:port", got ${JSON.stringify(value)}`,
  });
}

export function connectEngine(address: EngineAddress): Docker {
  return new Docker(address.options);
}

const HEALTH_TIMEOUT_MS = 5000;

/** Throws BerthError('runtime_unavailable') naming the engine when it does not answer a ping within five seconds. */
export async function pingEngine(docker: Docker, description: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${HEALTH_TIMEOUT_MS / 1000} s`)), HEALTH_TIMEOUT_MS);
  });
  try {
    await Promise.race([docker.ping(), timeout]);
  } catch (err) {
    throw engineUnavailable(description, err);
  } finally {
    clearTimeout(timer);
  }
}

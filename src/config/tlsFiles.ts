import { readFileSync } from 'node:fs';
import { BerthError } from '../core/errors.js';

/** The PEM files of a TLS client: CA, certificate and key, each a path or null (not used). */
export interface TlsFilePaths {
  ca: string | null;
  cert: string | null;
  key: string | null;
}

/**
 * Reads the files a TLS client configuration names (runtime.docker.tls,
 * configWebhook.tls), at start, so a wrong path fails the start with the key
 * to fix rather than the first connection.
 */
export function readTlsFiles(configKey: string, files: TlsFilePaths): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const read = (field: keyof TlsFilePaths): Buffer | undefined => {
    const path = files[field];
    if (path === null) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new BerthError({
        code: 'config_invalid',
        userMessage: `${configKey}.${field}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); point it at a readable PEM file.`,
        cause: err,
      });
    }
  };
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  for (const field of ['ca', 'cert', 'key'] as const) {
    const content = read(field);
    if (content !== undefined) out[field] = content;
  }
  return out;
}

import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { BerthError } from '../core/errors.js';
import { safeName } from '../core/safeName.js';
import type { BerthSpec } from './types.js';

export type SpecFields = Omit<BerthSpec, 'user' | 'name' | 'hash'>;

/** What a berth is made from: the environment template, or a profile's merge of it (src/profiles/), with its extras. */
export interface SpecTemplate {
  environment: Config['environment'];
  kubernetes?: BerthSpec['kubernetes'];
  labels?: BerthSpec['labels'];
  profile?: BerthSpec['profile'];
}

/** The berth a user gets from the configured environment template, or from the template given. */
export function berthSpecFor(config: Config, user: string, template: SpecTemplate = { environment: config.environment }): BerthSpec {
  const { environment, kubernetes, labels, profile } = template;
  const fields: SpecFields = {
    image: environment.image,
    command: environment.command,
    port: environment.port,
    env: environment.env,
    homePath: environment.homePath,
    workingDir: environment.workingDir,
    runAsUser: environment.user,
    limits: environment.limits,
    capabilities: environment.capabilities,
    readOnlyRoot: environment.readOnlyRoot,
    mounts: environment.mounts,
    // Absent extras leave the digest of a berth made before profiles existed unchanged.
    ...(kubernetes ? { kubernetes } : {}),
    ...(labels && Object.keys(labels).length > 0 ? { labels } : {}),
    ...(profile ? { profile } : {}),
  };
  return { user, name: safeName(user), ...fields, hash: specHash(fields) };
}

/**
 * A digest of everything that shapes a berth, the same for every user, so
 * that a config change re-creates berths and nothing else does. Keys are
 * sorted at every level because a YAML reorder is not a change.
 */
export function specHash(fields: SpecFields): string {
  return createHash('sha256').update(canonicalJson(fields)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** "512m", "2g", "1.5GiB", "1048576" (bytes); units are binary, as docker reads them. */
export function memoryBytes(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([kmg]?)i?b?$/i.exec(text.trim());
  if (!match) {
    throw new BerthError({ code: 'config_invalid', userMessage: `environment.limits.memory: cannot read ${JSON.stringify(text)} as a size` });
  }
  const power = ['', 'k', 'm', 'g'].indexOf((match[2] ?? '').toLowerCase());
  return Math.round(Number(match[1]) * 1024 ** power);
}

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: ${problems.length} problem(s) in the configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** An explicit --config path; otherwise BERTH_CONFIG, then ./berth.yaml if present. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /** Where the file came from, or null when only defaults and environment applied. */
  file: string | null;
}

function envName(path: readonly string[]): string {
  return 'BERTH_' + path.map((k) => k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Leaf key paths, read from the defaults: a non-empty object is a section, anything else a value. */
function leafPaths(value: Record<string, unknown>, prefix: string[] = []): string[][] {
  return Object.entries(value).flatMap(([key, child]) =>
    isPlainObject(child) && Object.keys(child).length > 0 ? leafPaths(child, [...prefix, key]) : [[...prefix, key]],
  );
}

const defaults = configSchema.parse({}) as unknown as Record<string, unknown>;
const overridable = leafPaths(defaults);

/** The environment variable that overrides each key, e.g. BERTH_LISTEN_HTTP for listen.http. */
export function environmentKeys(): Array<{ key: string; variable: string }> {
  return overridable.map((path) => ({ key: path.join('.'), variable: envName(path) }));
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) => {
    const at = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${at ? `${at}.` : ''}${key}: unknown key; check its spelling against the configuration reference`);
    }
    // YAML reads 8080, yes or 1.0 as a number or boolean where a key wants text; keys with
    // a message of their own (host:port) already show the quoted form.
    const hint = issue.code === 'invalid_type' && issue.expected === 'string' && issue.message.startsWith('Invalid input') ? '; put the value in quotes' : '';
    return [`${at || '(top level)'}: ${issue.message}${hint}`];
  });
}

function readFileConfig(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new ConfigError(path, [`not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`]);
  }
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file ?? env.BERTH_CONFIG;
  const candidate = explicit ?? (existsSync(resolve(cwd, 'berth.yaml')) ? 'berth.yaml' : undefined);
  const file = candidate === undefined ? null : resolve(cwd, candidate);
  const raw = file === null ? {} : readFileConfig(file);
  if (!isPlainObject(raw)) throw new ConfigError(file ?? 'configuration', ['(top level): expected a mapping of keys']);

  const problems: string[] = [];
  for (const path of overridable) {
    const text = env[envName(path)];
    if (text === undefined) continue;
    try {
      setPath(raw, path, parseYaml(text));
    } catch {
      problems.push(`${path.join('.')} (from ${envName(path)}): not a valid YAML value`);
    }
  }
  return { config: validConfig(raw, file ?? 'configuration', cwd, problems), file };
}

/**
 * A configuration object as the YAML file makes it, checked by the schema:
 * the defaults filled in and dataDir made absolute, or a ConfigError naming
 * every key that is wrong (with `problems` found before, if any).
 */
export function validConfig(raw: unknown, source: string, cwd = process.cwd(), problems: string[] = []): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) problems.push(...formatIssues(result.error.issues));
  if (problems.length > 0 || !result.success) throw new ConfigError(source, problems);
  const config = result.data;
  config.dataDir = resolve(cwd, config.dataDir);
  return config;
}

const SECRET_KEY = /secret|password|token/i;

/** The effective configuration as YAML, with every secret value replaced. */
export function describeConfig(config: Config): string {
  const mask = (value: unknown, key = ''): unknown => {
    if (SECRET_KEY.test(key) && typeof value === 'string' && value.length > 0) return '********';
    if (typeof value === 'string') return maskUrlPassword(value);
    if (Array.isArray(value)) return value.map((v) => mask(v));
    if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, k)]));
    return value;
  };
  return stringifyYaml(mask(config));
}

/** A URL with its password (postgres://user:pw@host/db) replaced; any other text unchanged. */
export function maskUrlPassword(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return text;
  try {
    const url = new URL(text);
    if (url.password === '') return text;
    url.password = '********';
    return url.toString();
  } catch {
    return text;
  }
}

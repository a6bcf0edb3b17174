import type { Config } from './schema.js';

/** Whether users reach the gateway over https: its cookies are then Secure and X-Forwarded-Proto says https. */
export function servesHttps(config: Config): boolean {
  return new URL(config.publicUrl).protocol === 'https:';
}

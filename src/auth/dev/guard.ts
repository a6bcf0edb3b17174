import type { Config } from '../../config/schema.js';
import { BerthError } from '../../core/errors.js';
import { isLoopbackHost, parseHostPort } from '../../core/net.js';

/**
 * Dev sign-in lets anyone be anyone. Listening beyond loopback with it would
 * hand every berth to whoever can reach the port, so that takes an explicit
 * auth.dev.allowRemote.
 */
export function assertDevModeAllowed(config: Config): void {
  const listen = config.listen.http;
  const host = parseHostPort(listen)?.host;
  if (config.auth.dev.allowRemote || (host !== undefined && isLoopbackHost(host))) return;
  throw new BerthError({
    code: 'config_invalid',
    userMessage:
      `auth.mode is "dev", where anyone can sign in as anyone, and listen.http (${listen}) is not a loopback address. ` +
      'Listen on 127.0.0.1, use auth.mode "header" behind an auth proxy, or set auth.dev.allowRemote: true if every client is trusted.',
    logMessage: `dev auth refused on non-loopback listen.http ${listen}`,
  });
}

import type { BerthError } from '../../core/errors.js';
import type { BerthCookieRules } from './cookies.js';
import type { StripRules } from './headers.js';

/** What the router says about one request it hands to the proxy. */
export interface ForwardOptions {
  /** The scheme the client used to reach the gateway, sent as X-Forwarded-Proto. */
  scheme: 'http' | 'https';
  /** Identity headers, tokens and gateway cookies to remove; build once with stripRules(). */
  strip?: StripRules;
  /** What the berth's Set-Cookie lines may do; build once at start-up. Without it they pass unchanged. */
  cookies?: BerthCookieRules;
  /** Called with the name of each Set-Cookie dropped because it names a gateway cookie, or with 'Clear-Site-Data "cookies"' when that was dropped. */
  onDroppedCookie?: (name: string) => void;
  /** Headers to add, e.g. { 'X-Berth-Visitor': 'alice' }; any the client sent under these names are dropped. */
  addHeaders?: Readonly<Record<string, string>>;
  /** Called once with the status the client is sent: the berth's, 101 for an upgrade, or 502 from the proxy. */
  onStatus?: (status: number) => void;
  /** Why the proxy answered 502 (or cut the connection), for the log; the client already has the user message. */
  onError?: (error: BerthError) => void;
}

export interface UpgradeOptions extends ForwardOptions {
  /** Bytes the client sent on the upgraded connection: activity for the idle culler (what the berth pushes is not). */
  onClientData?: (bytes: number) => void;
  /** Called once when an upgraded connection (one that got 101) is closed, e.g. for an open-WebSockets gauge. */
  onClose?: () => void;
}

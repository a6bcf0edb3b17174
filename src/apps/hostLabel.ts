import { SAFE_NAME_MAX } from '../core/safeName.js';

/**
 * Per-port web addresses: `<safe name>-<port>.<apps.domain>`.
 *
 * The label is one DNS label. Safe names are at most SAFE_NAME_MAX (40)
 * characters (src/core/safeName.ts shortens longer usernames with a hash
 * suffix, injectively), so with '-' and at most five digits a label is at most
 * 46 characters, inside DNS's 63. Safe names may themselves contain '-', so the
 * port is read after the LAST '-': ports have no '-', so (safe name, port)
 * comes back unchanged from every label made here. Ports are written without
 * leading zeros and parsed only in that form, so one address names one port.
 */
export const LABEL_MAX = 63;

export interface AppHost {
  safeName: string;
  port: number;
  /** The canonical host name: `<label>.<domain>`, lower case, no port. */
  host: string;
}

const SAFE_NAME_SHAPE = /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/;
const PORT_TEXT = /^[1-9][0-9]{0,4}$/;

export function appLabel(safeName: string, port: number): string {
  return `${safeName}-${port}`;
}

export function appHostName(safeName: string, port: number, domain: string): string {
  return `${appLabel(safeName, port)}.${domain.toLowerCase()}`;
}

/**
 * The host name of a Host header, lower case, without port and without one
 * trailing dot ("Alice-3000.Apps.Test.:8000" → "alice-3000.apps.test"), or
 * null for a header no browser sends for a name (IPv6 literals, empty).
 */
export function hostNameOf(header: string | undefined): string | null {
  if (!header) return null;
  let host = header.trim().toLowerCase();
  if (host.startsWith('[')) return null;
  const colon = host.lastIndexOf(':');
  if (colon !== -1) {
    if (!/^\d{1,5}$/.test(host.slice(colon + 1))) return null;
    host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host === '' ? null : host;
}

/** Whether a host name belongs to the apps domain (the domain itself or anything under it). */
export function isUnderDomain(hostName: string, domain: string): boolean {
  const d = domain.toLowerCase();
  return hostName === d || hostName.endsWith(`.${d}`);
}

/** The app host a host name names, or null: exactly one valid label before `.<domain>`, port 1–65535. */
export function parseAppHost(hostName: string, domain: string): AppHost | null {
  const suffix = `.${domain.toLowerCase()}`;
  if (!hostName.endsWith(suffix)) return null;
  const label = hostName.slice(0, -suffix.length);
  if (label.length === 0 || label.length > LABEL_MAX || label.includes('.')) return null;
  const dash = label.lastIndexOf('-');
  if (dash === -1) return null;
  const safeName = label.slice(0, dash);
  const portText = label.slice(dash + 1);
  if (safeName.length > SAFE_NAME_MAX || !SAFE_NAME_SHAPE.test(safeName) || !PORT_TEXT.test(portText)) return null;
  const port = Number(portText);
  if (port > 65535) return null;
  return { safeName, port, host: `${label}${suffix}` };
}

/** `<scheme>://<host>[:port]` of an app host: the gateway's scheme and port, since one listener serves both. */
export function appOrigin(publicUrl: string, host: string): string {
  const gateway = new URL(publicUrl);
  return `${gateway.protocol}//${host}${gateway.port === '' ? '' : `:${gateway.port}`}`;
}

/**
 * Whether a page of `origin` belongs to the user of `safeName`: the gateway's
 * own origin (its pages, and the signed-in user's berth on the main route)
 * or one of that user's app hosts, on the gateway's scheme and port. Made
 * once per gateway; `origin` is a parsed origin (lower case, no default port).
 */
export function ownersOrigins(publicUrl: string, domain: string | null): (safeName: string, origin: string) => boolean {
  const gateway = new URL(publicUrl);
  return (safeName, origin) => {
    if (origin === gateway.origin) return true;
    if (domain === null) return false;
    const page = new URL(origin);
    return page.protocol === gateway.protocol && page.port === gateway.port && parseAppHost(page.hostname, domain)?.safeName === safeName;
  };
}

import type { AuditLog } from '../../audit/auditLog.js';
import { sshAccess } from '../../cli/sshInfo.js';
import type { Config } from '../../config/schema.js';
import { gatewayHostKeys, type HostKey } from '../../ssh/hostKeys.js';
import type { Store } from '../../store/store.js';
import { contentSecurityPolicy, sendHtml } from '../respond.js';
import type { Route } from '../routes.js';
import { visibleProfiles } from '../../profiles/profiles.js';
import { adminPage } from './admin.js';
import { dashboardPage } from './dashboard.js';

/** How many recent spawn failures the admin page lists. */
const FAILURES_SHOWN = 10;
const EVENTS_SCANNED = 300;
/** How many audit events each page's Activity list shows. */
const ACTIVITY_SHOWN = 20;
const ADMIN_ACTIVITY_SHOWN = 50;

/** The signed-in pages: the dashboard at /_berth/ and, for admins, /_berth/admin. */
export function pageRoutes(config: Config, store: Store, audit: Pick<AuditLog, 'query'>): Route[] {
  // Read (made, the first time) once: the SSH server owns them, the dashboard only shows their fingerprints.
  let hostKeys: HostKey[] | null = null;
  // Header mode signs in and out at the auth proxy in front; the other modes have /_berth/logout.
  const signOut = config.auth.mode !== 'header';
  const ssh = async (user: string) => {
    if (config.listen.ssh === null) return null;
    hostKeys ??= await gatewayHostKeys(config, store);
    return sshAccess(config, hostKeys, user);
  };
  // Pages that play recordings let asciinema-player compile its WebAssembly parser; without recording they keep the strict policy.
  const recordings = config.recording.enabled;
  const policy: Record<string, string> = recordings ? { 'content-security-policy': contentSecurityPolicy([], { wasm: true }) } : {};
  return [
    {
      method: 'GET',
      path: '/_berth/',
      access: 'user',
      handler: async ({ res, user, csrfToken = '' }) => {
        const activity = await audit.query({ user: user.name, limit: ACTIVITY_SHOWN });
        sendHtml(res, 200, dashboardPage({ user: user.name, admin: user.admin, csrfToken, ssh: await ssh(user.name), signOut, activity, profiles: visibleProfiles(config.profiles, user), recordings }), policy);
      },
    },
    {
      method: 'GET',
      path: '/_berth/admin',
      access: 'admin',
      handler: async ({ res, user, csrfToken = '' }) => {
        const failures = (await store.recentEvents(null, EVENTS_SCANNED)).filter((e) => e.kind === 'failed').slice(0, FAILURES_SHOWN);
        const activity = await audit.query({ limit: ADMIN_ACTIVITY_SHOWN });
        sendHtml(res, 200, adminPage({ user: user.name, csrfToken, failures, activity, signOut, recordings }), policy);
      },
    },
  ];
}

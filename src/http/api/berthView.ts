import type { Config } from '../../config/schema.js';
import type { BerthStatus } from '../../core/berth.js';

/** The berth as the API shows it: the status plus what the person wants to know next (when it will be stopped). */
export function berthView(status: BerthStatus, config: Config) {
  const idleStopAt =
    status.state === 'ready' && status.lastActivity !== null ? status.lastActivity + config.idle.stopAfterSeconds * 1000 : null;
  return {
    user: status.user,
    name: status.name,
    state: status.state,
    since: iso(status.since),
    startedAt: iso(status.startedAt),
    lastActivity: iso(status.lastActivity),
    idleStopAt: iso(idleStopAt),
    image: status.image,
    profile: status.profile,
    failure: status.failure && { ...status.failure, at: iso(status.failure.at) },
    progress: status.progress,
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { ConfigWebhook } from '../profiles/configWebhook.js';
import {
  applyOverrides,
  overridesOf,
  resolveSelection,
  stillAllowed,
  type Person,
  type ProfileRequest,
  type ProfileSelection,
} from '../profiles/profiles.js';
import { berthSpecFor } from '../runtime/spec.js';
import type { BerthSpec } from '../runtime/types.js';
import type { Store } from '../store/store.js';
import type { StartReason } from './types.js';

/** What the front that starts a berth knows about the start: all optional, since SSH knows less than the API. */
export interface LaunchRequest {
  /** The profile and options asked for (POST /_berth/api/me/start), checked again here. */
  choice?: ProfileRequest;
  /** The groups the authenticator gave (HTTP, API); without them the groups of the last start are used. */
  groups?: readonly string[];
  remoteAddress?: string;
  connectionId?: string;
  clientVersion?: string;
}

export interface SpawnPlan {
  spec: BerthSpec;
  selection: ProfileSelection | null;
}

export interface PlannerOptions {
  config: Config;
  store: Store;
  logger: Logger;
  webhook: ConfigWebhook | null;
}

/**
 * Works out, at each spawn, what the berth is made from: the profile asked
 * for, or the one last started (kept in the store, so SSH starts the same),
 * or the default; then the config webhook's answer over it. With neither
 * profiles nor a webhook configured it is the environment template, and
 * nothing is read.
 */
export class SpawnPlanner {
  constructor(private readonly options: PlannerOptions) {}

  async plan(user: string, reason: StartReason, launch: LaunchRequest, deadline: number, progress: (message: string) => void): Promise<SpawnPlan> {
    const { config, store, webhook, logger } = this.options;
    if (config.profiles.length === 0 && webhook === null) return { spec: berthSpecFor(config, user), selection: null };
    const stored = await store.profileChoice(user);
    const person: Person = { name: user, groups: launch.groups ?? stored?.groups ?? [] };
    let selection = this.select(person, launch.choice, stored);
    const answer = webhook
      ? await webhook.configure(
          { user, protocol: reason, person, selection, remoteAddress: launch.remoteAddress, connectionId: launch.connectionId, clientVersion: launch.clientVersion },
          deadline,
          progress,
        )
      : null;
    if (answer?.profile) selection = resolveSelection(config.profiles, person, { profile: answer.profile });
    if (selection && changed(stored, selection, person)) {
      await store.saveProfileChoice(user, { ...selection, groups: [...person.groups] }, Date.now());
    }
    const layers = selection ? overridesOf(config.profiles, selection) : [];
    const { environment, kubernetes } = applyOverrides(config.environment, [...layers, ...(answer?.overrides ?? [])]);
    logger.debug({ user, profile: selection?.profile ?? null, webhook: answer !== null }, 'berth planned');
    const spec = berthSpecFor(config, user, {
      environment,
      ...(kubernetes ? { kubernetes } : {}),
      ...(answer && Object.keys(answer.labels).length > 0 ? { labels: answer.labels } : {}),
      ...(selection ? { profile: { slug: selection.profile, options: selection.options } } : {}),
    });
    const files = answer && webhook ? webhook.filesFor(user, answer, environment.homePath) : [];
    return { spec: files.length > 0 ? { ...spec, files } : spec, selection };
  }

  /** A choice asked for now must be allowed; a stored one that no longer is gives way to the default. */
  private select(person: Person, asked: ProfileRequest | undefined, stored: ProfileSelection | null): ProfileSelection | null {
    const { profiles } = this.options.config;
    if (asked) return resolveSelection(profiles, person, asked);
    if (stored && stillAllowed(profiles, person, stored)) return resolveSelection(profiles, person, stored);
    if (stored) this.options.logger.info({ user: person.name, profile: stored.profile }, 'last profile no longer allowed; starting the default');
    return resolveSelection(profiles, person, null);
  }
}

function changed(stored: (ProfileSelection & { groups: string[] }) | null, selection: ProfileSelection, person: Person): boolean {
  if (!stored) return true;
  return stored.profile !== selection.profile || JSON.stringify(stored.options) !== JSON.stringify(selection.options) || stored.groups.join('\n') !== person.groups.join('\n');
}

import type { Config } from '../config/schema.js';
import { BerthError } from '../core/errors.js';

/**
 * Profiles: named templates over the environment, each open to some groups
 * or users, with options whose choices add overrides of their own. Pure
 * rules, no I/O; the spawner's planner applies them at every spawn, and the
 * API checks a request with the same function before it starts anything.
 */
export type Profile = Config['profiles'][number];
export type ProfileOverrides = Profile['overrides'];
type Audience = Pick<Profile, 'allowedGroups' | 'allowedUsers'>;

/** Whoever a rule is checked for: a username and the groups the authenticator gave. */
export interface Person {
  name: string;
  groups: readonly string[];
}

/** A picked profile and, for each of its options, the slug of the picked choice. */
export interface ProfileSelection {
  profile: string;
  options: Record<string, string>;
}

/** What a request asks for; anything missing is filled with the defaults. */
export interface ProfileRequest {
  profile?: string | null;
  options?: Record<string, string>;
}

/** Empty lists on both sides: open to everyone. */
export function mayUse(audience: Audience, person: Person): boolean {
  if (audience.allowedGroups.length === 0 && audience.allowedUsers.length === 0) return true;
  return audience.allowedUsers.includes(person.name) || person.groups.some((group) => audience.allowedGroups.includes(group));
}

/** The profiles a person may pick, each with only the choices they may pick (options left with none are dropped): all a listing shows. */
export function visibleProfiles(profiles: readonly Profile[], person: Person): Profile[] {
  return profiles
    .filter((profile) => mayUse(profile, person))
    .map((profile) => ({
      ...profile,
      options: profile.options
        .map((option) => ({ ...option, choices: option.choices.filter((choice) => mayUse(choice, person)) }))
        .filter((option) => option.choices.length > 0),
    }));
}

/** The profile a start without a choice gets: the one marked default if the person may use it, else the first they may. */
export function defaultProfile(visible: readonly Profile[]): Profile | null {
  return visible.find((p) => p.default) ?? visible[0] ?? null;
}

/**
 * The selection a start uses: what was asked for, checked against who may
 * use it (403 naming the groups that may), each option not asked for at its
 * default choice. Null when no profiles are configured.
 */
export function resolveSelection(profiles: readonly Profile[], person: Person, asked: ProfileRequest | null): ProfileSelection | null {
  if (profiles.length === 0) {
    if (asked?.profile) throw badRequest(`This gateway has no profiles, so "${asked.profile}" cannot be picked; start without one.`);
    return null;
  }
  const visible = visibleProfiles(profiles, person);
  let profile: Profile | null;
  if (asked?.profile) {
    const wanted = profiles.find((p) => p.slug === asked.profile);
    if (!wanted || !mayUse(wanted, person)) {
      // An unknown profile and one the person may not see read alike until they ask by an existing name.
      if (!wanted) throw badRequest(`There is no profile "${asked.profile}"; pick one of: ${slugs(visible)}.`);
      throw notAllowed(`the profile "${wanted.slug}"`, wanted, person);
    }
    profile = visible.find((p) => p.slug === wanted.slug) ?? null;
  } else {
    profile = defaultProfile(visible);
  }
  if (!profile) {
    throw new BerthError({
      code: 'forbidden',
      userMessage: 'No profile on this gateway is open to you; ask the operator to add you to a profile’s allowedGroups or allowedUsers.',
      logMessage: `${person.name} (groups: ${person.groups.join(', ') || 'none'}) may use no profile`,
    });
  }
  const full = profiles.find((p) => p.slug === profile.slug) as Profile;
  const options: Record<string, string> = {};
  for (const [slug, choiceSlug] of Object.entries(asked?.options ?? {})) {
    const option = full.options.find((o) => o.slug === slug);
    if (!option) throw badRequest(`The profile "${full.slug}" has no option "${slug}"; its options: ${slugs(profile.options)}.`);
    const choice = option.choices.find((c) => c.slug === choiceSlug);
    if (!choice) throw badRequest(`The option "${slug}" has no choice "${choiceSlug}"; pick one of: ${slugs(visibleChoices(profile, slug))}.`);
    if (!mayUse(choice, person)) throw notAllowed(`the choice "${choiceSlug}" of "${slug}"`, choice, person);
    options[slug] = choiceSlug;
  }
  for (const option of profile.options) {
    if (options[option.slug] !== undefined) continue;
    const choice = option.choices.find((c) => c.default) ?? option.choices[0];
    if (choice) options[option.slug] = choice.slug;
  }
  return { profile: profile.slug, options };
}

/** Whether a selection made earlier (kept for SSH) still holds for this person under today's configuration. */
export function stillAllowed(profiles: readonly Profile[], person: Person, selection: ProfileSelection): boolean {
  try {
    resolveSelection(profiles, person, selection);
    return true;
  } catch {
    return false;
  }
}

/** The overrides a selection applies, in order: the profile's, then each picked choice's. */
export function overridesOf(profiles: readonly Profile[], selection: ProfileSelection): ProfileOverrides[] {
  const profile = profiles.find((p) => p.slug === selection.profile);
  if (!profile) return [];
  const layers: ProfileOverrides[] = [profile.overrides];
  for (const option of profile.options) {
    const choice = option.choices.find((c) => c.slug === selection.options[option.slug]);
    if (choice) layers.push(choice.overrides);
  }
  return layers;
}

export interface KubernetesPlacement {
  nodeSelector: Record<string, string>;
  tolerations: NonNullable<NonNullable<ProfileOverrides['kubernetes']>['tolerations']>;
  resources: Record<string, string>;
}

/**
 * The environment with the layers applied in order: env and limits merge
 * key by key, every other key replaces. Kubernetes placement merges alike
 * (tolerations add up); null when no layer sets any.
 */
export function applyOverrides(
  environment: Config['environment'],
  layers: readonly ProfileOverrides[],
): { environment: Config['environment']; kubernetes: KubernetesPlacement | null } {
  let merged = environment;
  let kubernetes: KubernetesPlacement | null = null;
  for (const layer of layers) {
    const { env, limits, kubernetes: placement, ...replaced } = layer;
    merged = {
      ...merged,
      ...definedOnly(replaced),
      env: { ...merged.env, ...env },
      limits: { ...merged.limits, ...definedOnly(limits ?? {}) },
    };
    if (placement) {
      const base: KubernetesPlacement = kubernetes ?? { nodeSelector: {}, tolerations: [], resources: {} };
      kubernetes = {
        nodeSelector: { ...base.nodeSelector, ...placement.nodeSelector },
        tolerations: [...base.tolerations, ...(placement.tolerations ?? [])],
        resources: { ...base.resources, ...placement.resources },
      };
    }
  }
  return { environment: merged, kubernetes };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function visibleChoices(profile: Profile, option: string): Array<{ slug: string }> {
  return profile.options.find((o) => o.slug === option)?.choices ?? [];
}

function slugs(list: ReadonlyArray<{ slug: string }>): string {
  return list.map((item) => `"${item.slug}"`).join(', ') || '(none)';
}

function badRequest(userMessage: string): BerthError {
  return new BerthError({ code: 'bad_request', userMessage });
}

function notAllowed(what: string, audience: Audience, person: Person): BerthError {
  const groups = audience.allowedGroups.length > 0 ? `members of ${audience.allowedGroups.map((g) => `"${g}"`).join(', ')}` : null;
  const users = audience.allowedUsers.length > 0 ? `${audience.allowedUsers.length} named user${audience.allowedUsers.length === 1 ? '' : 's'}` : null;
  return new BerthError({
    code: 'forbidden',
    userMessage: `Only ${[groups, users].filter(Boolean).join(' and ')} may use ${what}; pick another, or ask the operator for access.`,
    logMessage: `${person.name} (groups: ${person.groups.join(', ') || 'none'}) refused ${what}`,
  });
}

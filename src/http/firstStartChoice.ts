import type { Config } from '../config/schema.js';
import type { BerthStatus } from '../core/berth.js';
import { visibleProfiles, type Person, type Profile } from '../profiles/profiles.js';
import type { Store } from '../store/store.js';

export type FirstStartChoice = (person: Person, status: BerthStatus) => Promise<Profile[] | null>;

/**
 * Whether a navigation to a stopped berth should ask which profile to start
 * instead of starting one: only with profilesChoice "ask", more than one
 * profile open to the person, and no profile started before (the store
 * keeps the last one, which later starts reuse).
 */
export function firstStartChoice(config: Config, store: Store): FirstStartChoice {
  return async (person, status) => {
    if (config.profilesChoice !== 'ask' || status.state !== 'stopped' || status.profile !== null) return null;
    const visible = visibleProfiles(config.profiles, person);
    if (visible.length < 2) return null;
    return (await store.profileChoice(person.name)) === null ? visible : null;
  };
}

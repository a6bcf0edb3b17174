import type { Profile } from '../../profiles/profiles.js';
import { escapeHtml } from './html.js';

/**
 * The profile picker: one radio per profile with its description, and a
 * select per option of each. Shared by the loading page of a first start and
 * the dashboard (which fills it from /_berth/api/me/profiles instead), so
 * both post the same {"profile", "options"} to /_berth/api/me/start.
 */
export function profileChoiceForm(profiles: readonly Profile[], selected: string | null, submitLabel: string): string {
  const checked = selected ?? (profiles.find((p) => p.default) ?? profiles[0])?.slug;
  const items = profiles
    .map((profile) => {
      const id = `profile-${profile.slug}`;
      const options = profile.options
        .map((option) => {
          const selectId = `option-${profile.slug}-${option.slug}`;
          const choices = option.choices
            .map((c) => `<option value="${escapeHtml(c.slug)}"${c.default ? ' selected' : ''}>${escapeHtml(c.displayName)}${c.description ? ` — ${escapeHtml(c.description)}` : ''}</option>`)
            .join('');
          return `<div class="field"><label for="${selectId}">${escapeHtml(option.displayName)}</label><select id="${selectId}" data-option="${escapeHtml(option.slug)}">${choices}</select></div>`;
        })
        .join('');
      return `<li class="profile" data-profile="${escapeHtml(profile.slug)}"><label for="${id}"><input type="radio" name="profile" id="${id}" value="${escapeHtml(profile.slug)}"${profile.slug === checked ? ' checked' : ''}> <strong>${escapeHtml(profile.displayName)}</strong></label>
<p class="small muted">${escapeHtml(profile.description)}</p>${options}</li>`;
    })
    .join('');
  return `<form id="profile-form"><fieldset><legend>Pick what to start</legend><ul class="list profiles">${items}</ul></fieldset>
<button type="submit">${escapeHtml(submitLabel)}</button></form>`;
}

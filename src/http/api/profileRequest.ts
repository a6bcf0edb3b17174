import type { IncomingMessage } from 'node:http';
import { BerthError } from '../../core/errors.js';
import type { ProfileRequest } from '../../profiles/profiles.js';
import { readJsonBody } from '../respond.js';

const SHAPE = 'Send {"profile": "<slug>", "options": {"<option>": "<choice>"}} (both optional); GET /_berth/api/me/profiles lists what you may pick.';

/** The body of POST /_berth/api/me/start: empty (the last or default profile) or a profile and its option choices. */
export async function readProfileRequest(req: IncomingMessage): Promise<ProfileRequest | null> {
  const body = await readJsonBody(req);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BerthError({ code: 'bad_request', userMessage: SHAPE });
  const { profile, options, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw new BerthError({ code: 'bad_request', userMessage: `Unknown key ${Object.keys(rest).map((k) => `"${k}"`).join(', ')}. ${SHAPE}` });
  if (profile !== undefined && profile !== null && typeof profile !== 'string') throw new BerthError({ code: 'bad_request', userMessage: SHAPE });
  const optionsOk =
    options === undefined ||
    (typeof options === 'object' && options !== null && !Array.isArray(options) && Object.values(options).every((v) => typeof v === 'string'));
  if (!optionsOk) throw new BerthError({ code: 'bad_request', userMessage: SHAPE });
  if ((profile === undefined || profile === null) && options === undefined) return null;
  return { profile: (profile as string | null | undefined) ?? null, options: (options as Record<string, string> | undefined) ?? {} };
}

import type { IncomingMessage } from 'node:http';
import { headerUtf8 } from '../../core/headerText.js';
import { headerValues } from '../../http/headerValues.js';

/** What one identity (the user, the email, the groups) reads as from the headers configured for it. */
export type IdentityRead =
  | { kind: 'absent' }
  | { kind: 'value'; value: string; header: string }
  /** Two of the headers (or two copies of one) say different things: one may be the client's. */
  | { kind: 'conflict'; headers: string[] }
  /** A header whose bytes are not UTF-8. */
  | { kind: 'invalid'; header: string };

/**
 * Reads one identity from every header listed for it (`lowerNames`, lower
 * case). Nothing is guessed: an operator lists the header or headers their
 * proxy sets and overwrites, and when the request carries several that
 * disagree no copy is believed, since a proxy that sets only one of them
 * passes the client's own copies of the others on. Empty values (a proxy with
 * no such claim) count as absent. Values are compared after decoding and NFC,
 * so one name sent composed in one header and decomposed in another agrees.
 */
export function readIdentity(req: IncomingMessage, lowerNames: readonly string[]): IdentityRead {
  let found: { value: string; header: string } | undefined;
  const disagreeing = new Set<string>();
  for (const header of lowerNames) {
    const values = headerValues(req, header);
    if (values === undefined) continue;
    for (const raw of values) {
      if (raw.trim() === '') continue;
      const text = headerUtf8(raw);
      if (text === null) return { kind: 'invalid', header };
      const value = text.normalize('NFC');
      if (found === undefined) found = { value, header };
      else if (found.value !== value) disagreeing.add(found.header).add(header);
    }
  }
  if (disagreeing.size > 0) return { kind: 'conflict', headers: [...disagreeing] };
  return found === undefined ? { kind: 'absent' } : { kind: 'value', ...found };
}

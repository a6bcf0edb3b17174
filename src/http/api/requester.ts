import type { AuditEvent } from '../../audit/kinds.js';
import type { RouteContext } from '../routes.js';

/** Who made an API request, for its audit event: the user, how they signed in, and from which address. */
export function requester({ user, via, req }: RouteContext): Pick<AuditEvent, 'actor' | 'via' | 'source'> {
  return { actor: user.name, via: via ?? null, source: req.socket.remoteAddress ?? null };
}

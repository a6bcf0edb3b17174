import type { Config } from '../../config/schema.js';
import { BerthError } from '../../core/errors.js';
import type { User } from '../../core/user.js';

/**
 * Whose berth a terminal opens: the user's own, or, for an admin where
 * terminal.adminAccess allows it, the one `asked` names. The page, the
 * ticket and the socket all ask this, so none can be talked past it.
 */
export function terminalOwner(asked: string | null, user: User, config: Config): string {
  if (asked === null || asked === '' || asked === user.name) return user.name;
  if (!user.admin || !config.terminal.adminAccess) {
    throw new BerthError({
      code: 'forbidden',
      userMessage: user.admin
        ? "Opening another user's terminal is turned off on this gateway; an operator can allow it with terminal.adminAccess: true."
        : 'You may open only your own terminal; leave out ?user=.',
      logMessage: `terminal of ${JSON.stringify(asked)} refused to ${JSON.stringify(user.name)}${user.admin ? ' (terminal.adminAccess is off)' : ' (not an admin)'}`,
    });
  }
  return asked;
}

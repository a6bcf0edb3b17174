import type { SignInListener } from '../auth/session/sessions.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { BerthDirectory } from '../spawner/types.js';
import type { FirstStartChoice } from './firstStartChoice.js';
import { isGatewayPath, pathOf } from './gatewayPath.js';

/**
 * spawn.startOnSignIn: a completed sign-in on its way to the berth (a
 * `next` outside /_berth/) starts (or resumes) the person's berth at once,
 * so it spends the redirects back to the page they asked for starting; the
 * loading page then follows the spawn already in flight. Signing in to the
 * dashboard or the admin page wakes nothing, and a person who is still to
 * choose a profile (profilesChoice "ask") is left to choose: nothing starts
 * with a profile they did not pick.
 */
export function startOnSignIn(config: Config, directory: BerthDirectory, choice: FirstStartChoice, logger: Logger): SignInListener {
  return (identity, landing) => {
    if (!config.spawn.startOnSignIn || isGatewayPath(pathOf(landing))) return;
    void choice(identity, directory.status(identity.name)).then(
      (profiles) => {
        if (profiles === null) directory.start(identity.name, 'http', { groups: identity.groups });
      },
      (err: unknown) => logger.warn({ err, user: identity.name }, 'could not start the berth on sign-in; the first request starts it'),
    );
  };
}

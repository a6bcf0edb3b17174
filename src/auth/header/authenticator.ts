import type { IncomingMessage } from 'node:http';
import { BerthError } from '../../core/errors.js';
import { cidrMatcher } from '../../core/net.js';
import { usernameProblem } from '../../core/safeName.js';
import { headerValues } from '../../http/headerValues.js';
import type { AuthContext, AuthResult, Authenticator } from '../types.js';

type Lookup = { value: string } | { duplicate: string } | null;

/**
 * The first of `names` the request carries with a non-empty value. A header
 * sent twice is reported rather than read: that is a proxy appending to a
 * header the client already sent, and either copy could be the client's.
 */
function firstPresent(req: IncomingMessage, names: readonly string[]): Lookup {
  for (const name of names) {
    const values = headerValues(req, name);
    if (values === undefined) continue;
    if (values.length > 1) return { duplicate: name };
    if (values[0]) return { value: values[0] };
  }
  return null;
}

function duplicateRefusal(header: string): { refused: BerthError } {
  return {
    refused: new BerthError({
      code: 'bad_request',
      userMessage: `The sign-in proxy sent ${header} more than once; the operator must make it replace, not add to, identity headers from clients.`,
    }),
  };
}

/**
 * auth.mode "header": an auth proxy in front (oauth2-proxy, mod_auth_openidc,
 * ForwardAuth) signs users in and names them in a header. Believed only from
 * auth.header.trustedProxies, and never from a berth even inside those ranges
 * (a trusted Docker network range would otherwise let any berth on it name
 * any user); from anyone else the same headers are an attempt to impersonate
 * and are refused. Every request carries the header, so no session cookie is
 * involved.
 */
export function createHeaderAuthenticator({ config, logger, isAdmin, isBerthAddress }: AuthContext): Authenticator {
  const { userHeaders, emailHeaders, groupsHeaders, trustedProxies } = config.auth.header;
  const isTrusted = cidrMatcher(trustedProxies);
  const lower = (names: string[]): string[] => names.map((name) => name.toLowerCase());
  const users = lower(userHeaders);
  const emails = lower(emailHeaders);
  const groups = lower(groupsHeaders);
  const identity = [...new Set([...users, ...emails, ...groups])];

  function fromUntrustedPeer(req: IncomingMessage, peer: string | undefined, berth: boolean): AuthResult {
    const sent = identity.filter((name) => headerValues(req, name) !== undefined);
    if (sent.length === 0) {
      return {
        challenge: {
          loginPath: null,
          error: new BerthError({
            code: 'unauthenticated',
            userMessage: "Sign in through your organisation's address for Berth: this connection did not come through its sign-in proxy.",
            logMessage: `no identity from untrusted peer ${peer}`,
          }),
        },
      };
    }
    const source = berth ? 'a berth' : 'an untrusted peer';
    logger.warn({ peer, headers: sent }, `identity header from ${source} refused`);
    return {
      refused: new BerthError({
        code: 'untrusted_identity_header',
        userMessage: "This request names a user in a header but did not come through Berth's sign-in proxy, so it was refused.",
        logMessage: `identity header ${sent.join(', ')} from ${source} ${peer}`,
      }),
    };
  }

  return {
    mode: 'header',
    routes: new Map(),
    async authenticate(req) {
      const peer = req.socket.remoteAddress;
      if (isBerthAddress(peer)) return fromUntrustedPeer(req, peer, true);
      if (!isTrusted(peer)) return fromUntrustedPeer(req, peer, false);

      const user = firstPresent(req, users);
      if (user === null) {
        return {
          challenge: {
            loginPath: null,
            error: new BerthError({
              code: 'unauthenticated',
              userMessage: `no user header from the auth proxy: check that it sets one of ${userHeaders.join(', ')}`,
            }),
          },
        };
      }
      if ('duplicate' in user) return duplicateRefusal(user.duplicate);
      const problem = usernameProblem(user.value);
      if (problem !== null) {
        // The value itself stays out of the log: it is whatever the proxy was given.
        logger.warn({ peer, problem }, 'unusable username from the auth proxy');
        return {
          refused: new BerthError({
            code: 'bad_username',
            userMessage: `The sign-in proxy sent a username Berth cannot use (${problem}); ask the operator to map users to plain names.`,
          }),
        };
      }

      const email = firstPresent(req, emails);
      if (email !== null && 'duplicate' in email) return duplicateRefusal(email.duplicate);
      const groupList = firstPresent(req, groups);
      if (groupList !== null && 'duplicate' in groupList) return duplicateRefusal(groupList.duplicate);

      return {
        user: {
          name: user.value,
          ...(email === null ? {} : { email: email.value }),
          groups: groupList === null ? [] : groupList.value.split(',').map((g) => g.trim()).filter(Boolean),
          admin: isAdmin(user.value),
        },
        sessionId: `header:${user.value}`,
      };
    },
  };
}

import type { IncomingMessage } from 'node:http';
import { DailyOnce } from '../../audit/dailyOnce.js';
import { BerthError } from '../../core/errors.js';
import { cidrMatcher } from '../../core/net.js';
import { parseUsername } from '../../core/safeName.js';
import { headerValues } from '../../http/headerValues.js';
import { throttledLog, type ThrottledLog } from '../../log/throttled.js';
import { signedIn, signInRefused } from '../audit.js';
import type { AuthContext, AuthResult, Authenticator } from '../types.js';
import { readIdentity, type IdentityRead } from './readIdentity.js';

/** The refusal of a request whose identity headers cannot be believed as they are; the log names headers, never values. */
function unbelievable(read: Exclude<IdentityRead, { kind: 'absent' } | { kind: 'value' }>, log: ThrottledLog, peer: string | undefined): { refused: BerthError } {
  if (read.kind === 'invalid') {
    log.write('warn', 'not_utf8', { peer, header: read.header }, 'identity header is not UTF-8; refused');
    return {
      refused: new BerthError({
        code: 'bad_request',
        userMessage: `The sign-in proxy sent ${read.header} with bytes that are not UTF-8; ask the operator to have it send names as UTF-8.`,
        logMessage: `${read.header} from ${peer} is not valid UTF-8`,
      }),
    };
  }
  log.write('warn', 'disagree', { peer, headers: read.headers }, 'identity headers disagree; refused');
  return {
    refused: new BerthError({
      code: 'bad_request',
      userMessage: `This request names more than one identity (${read.headers.join(', ')} disagree), so none is believed; the operator should list in auth.header only the headers the sign-in proxy sets and overwrites.`,
      logMessage: `identity headers ${read.headers.join(', ')} from ${peer} disagree`,
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
export function createHeaderAuthenticator({ config, logger, isAdmin, isBerthAddress, audit }: AuthContext): Authenticator {
  const { userHeaders, emailHeaders, groupsHeaders, trustedProxies } = config.auth.header;
  const isTrusted = cidrMatcher(trustedProxies);
  const lower = (names: string[]): string[] => names.map((name) => name.toLowerCase());
  const users = lower(userHeaders);
  const emails = lower(emailHeaders);
  const groups = lower(groupsHeaders);
  const identity = [...new Set([...users, ...emails, ...groups])];
  // Clients choose these headers, so the lines they cause are rate-limited.
  const noisy = throttledLog(logger);
  // Every request signs in again; the audit log hears of a user once a day, and of every refusal.
  const today = new DailyOnce();
  const refused = (req: IncomingMessage, result: { refused: BerthError }): AuthResult => {
    audit.record(signInRefused(req, 'header', result.refused.logMessage));
    return result;
  };

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
    noisy.write('warn', berth ? 'berth' : 'untrusted', { peer, headers: sent }, `identity header from ${source} refused`);
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
      if (isBerthAddress(peer) || !isTrusted(peer)) {
        const result = fromUntrustedPeer(req, peer, isBerthAddress(peer));
        return 'refused' in result ? refused(req, result) : result;
      }

      const user = readIdentity(req, users);
      if (user.kind === 'absent') {
        return {
          challenge: {
            loginPath: null,
            error: new BerthError({
              code: 'unauthenticated',
              userMessage: `no user header from the auth proxy: check that it sets ${userHeaders.join(' or ')} (auth.header.userHeaders)`,
            }),
          },
        };
      }
      if (user.kind !== 'value') return refused(req, unbelievable(user, noisy, peer));
      const username = parseUsername(user.value);
      if ('problem' in username) {
        // The value itself stays out of the log: it is whatever the proxy was given.
        noisy.write('warn', 'bad_username', { peer, header: user.header, problem: username.problem }, 'unusable username from the auth proxy');
        return refused(req, {
          refused: new BerthError({
            code: 'bad_username',
            userMessage: `The sign-in proxy sent a username Berth cannot use (${username.problem}); ask the operator to map users to plain names.`,
            logMessage: `unusable username from the auth proxy: ${username.problem}`,
          }),
        });
      }
      const email = readIdentity(req, emails);
      if (email.kind === 'conflict' || email.kind === 'invalid') return refused(req, unbelievable(email, noisy, peer));
      const groupList = readIdentity(req, groups);
      if (groupList.kind === 'conflict' || groupList.kind === 'invalid') return refused(req, unbelievable(groupList, noisy, peer));

      const { name } = username;
      if (today.first(name)) audit.record(signedIn(req, name, 'header'));
      return {
        user: {
          name,
          ...(email.kind === 'value' ? { email: email.value } : {}),
          groups: groupList.kind === 'value' ? groupList.value.split(',').map((g) => g.trim()).filter(Boolean) : [],
          admin: isAdmin(name),
        },
        sessionId: `header:${name}`,
      };
    },
  };
}

import type { CustomFetch } from 'openid-client';
import { Agent, fetch } from 'undici';

/*
 * How the gateway talks to its OpenID provider. It calls the provider
 * seconds to minutes apart (discovery, a sign-in's code exchange, the
 * signing keys), so a kept-alive connection seldom helps, and one kept
 * until the provider's own keep-alive timeout runs out races the provider
 * closing it: a request written as the provider closes fails the sign-in
 * with a reset. So an idle connection is closed after a second: a sign-in's
 * calls back to back still share one, and no common server closes one that
 * soon (Node waits 5 s, nginx and Apache 5 s or more).
 */
const IDLE_MS = 1_000;

const agent = new Agent({ keepAliveTimeout: IDLE_MS, keepAliveMaxTimeout: IDLE_MS });

export const providerFetch: CustomFetch = (url, options) =>
  // undici's Response is the one Node's global fetch returns, typed apart.
  fetch(url, { ...options, dispatcher: agent } as Parameters<typeof fetch>[1]) as unknown as Promise<Response>;

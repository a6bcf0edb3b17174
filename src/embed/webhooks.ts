import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerOptions } from 'node:https';
import { readTlsFiles, type TlsFilePaths } from '../config/tlsFiles.js';
import { pathOf } from '../http/gatewayPath.js';

/*
 * The server side of the two webhooks Berth calls, in ContainerSSH's request
 * and response bodies (src/ssh/auth/webhook.ts and
 * src/profiles/configWebhook.ts are the clients): a host program writes
 * the decision, these handlers speak the protocol. Each is a plain
 * `(req, res)` handler for node:http, node:https or any framework that takes
 * one. A request that is not the protocol's gets 400 or 404 with a JSON
 * error saying what was expected; a decision that throws gets 500, which
 * Berth reads as a refusal (it fails closed).
 */

export type WebhookHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** What ContainerSSH (and Berth) send with every authentication attempt. */
export interface AuthAttempt {
  /** The SSH username the client sent. */
  username: string;
  /** "ip:port" of the SSH client. */
  remoteAddress: string;
  connectionId: string;
  /** The client's identification string, e.g. "SSH-2.0-OpenSSH_9.2p1". */
  clientVersion: string;
}

/**
 * A decision: true or false, or ContainerSSH's answer itself; an
 * `authenticatedUsername` makes the connection open that user's berth
 * instead of the SSH username's.
 */
export type AuthDecision = boolean | { success: boolean; authenticatedUsername?: string };

export interface AuthWebhookOptions {
  /** POST …/password: `password` is decoded from ContainerSSH's passwordBase64. Absent: every password is refused. */
  onPassword?: (attempt: AuthAttempt & { password: string }) => AuthDecision | Promise<AuthDecision>;
  /** POST …/pubkey: `publicKey` is an authorized_keys line ("ssh-ed25519 AAAA…"). Absent: every key is refused. */
  onPublicKey?: (attempt: AuthAttempt & { publicKey: string }) => AuthDecision | Promise<AuthDecision>;
}

/** ContainerSSH's configuration request, with Berth's own `berth` key. */
export interface ConfigRequest {
  username: string;
  authenticatedUsername: string;
  remoteAddress: string;
  connectionId: string;
  clientVersion: string;
  metadata: Record<string, unknown>;
  environment: Record<string, unknown>;
  files: Record<string, unknown>;
  berth?: { protocol: string; groups: string[]; profile: string | null; options: Record<string, unknown> };
}

/**
 * ContainerSSH's configuration response: what Berth applies of it is
 * `config.docker.execution` (container image, env, labels; host limits),
 * `config.kubernetes.pod`, `environment`, and Berth's own `berth.profile`
 * (README "Profiles and the config webhook").
 */
export interface ConfigResponse {
  config?: {
    backend?: string;
    docker?: { execution?: { container?: { image?: string; env?: string[]; labels?: Record<string, string> }; host?: Record<string, unknown> } };
    kubernetes?: { pod?: Record<string, unknown> };
  };
  environment?: Record<string, { value: string; sensitive?: boolean }>;
  berth?: { profile?: string };
}

/** A body larger than this is not a webhook request. */
const MAX_BODY_BYTES = 64 * 1024;

/** ContainerSSH's authentication webhook: POST <base>/password and POST <base>/pubkey, answered {"success": …}. */
export function createAuthWebhookHandler(options: AuthWebhookOptions): WebhookHandler {
  return jsonHandler(async (req) => {
    const kind = /\/(password|pubkey)$/.exec(pathOf(req.url))?.[1];
    if (kind === undefined) throw new ProtocolError(404, 'POST to <base>/password or <base>/pubkey (ContainerSSH authentication webhook)');
    const body = await readJsonObject(req);
    const attempt = attemptOf(body);
    let decision: AuthDecision = false;
    if (kind === 'password') {
      const password = Buffer.from(text(body, 'passwordBase64'), 'base64').toString('utf8');
      if (options.onPassword) decision = await options.onPassword({ ...attempt, password });
    } else {
      const publicKey = text(body, 'publicKey');
      if (options.onPublicKey) decision = await options.onPublicKey({ ...attempt, publicKey });
    }
    return typeof decision === 'boolean' ? { success: decision } : decision;
  });
}

/** ContainerSSH's configuration webhook: POST <url> with a ConfigRequest, answered with a ConfigResponse (null or undefined: change nothing). */
export function createConfigWebhookHandler(onConfig: (request: ConfigRequest) => ConfigResponse | null | undefined | Promise<ConfigResponse | null | undefined>): WebhookHandler {
  return jsonHandler(async (req) => {
    const body = await readJsonObject(req);
    const request = { ...attemptOf(body), authenticatedUsername: text(body, 'authenticatedUsername') } as ConfigRequest;
    for (const key of ['metadata', 'environment', 'files'] as const) request[key] = isObject(body[key]) ? body[key] : {};
    if (isObject(body.berth)) request.berth = body.berth as ConfigRequest['berth'];
    return (await onConfig(request)) ?? { config: {} };
  });
}

/**
 * https.createServer options for a webhook server, from the same three PEM
 * files Berth's client takes (configWebhook.tls): this server's certificate
 * and key, and, when `ca` is set, the CA whose client certificates alone are
 * let in (mutual TLS).
 */
export function webhookServerTls(files: TlsFilePaths): ServerOptions {
  const { ca, cert, key } = readTlsFiles('webhook tls', files);
  return { ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(ca ? { ca, requestCert: true, rejectUnauthorized: true } : {}) };
}

class ProtocolError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function jsonHandler(answer: (req: IncomingMessage) => Promise<unknown>): WebhookHandler {
  return (req, res) => {
    const reply = (status: number, body: unknown) => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'POST') {
      reply(405, { error: 'webhook requests are POSTs with a JSON body' });
      return;
    }
    answer(req).then(
      (body) => reply(200, body),
      (err: unknown) => reply(err instanceof ProtocolError ? err.status : 500, { error: err instanceof ProtocolError ? err.message : 'the webhook decision failed; see its server log' }),
    );
  };
}

async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ProtocolError(413, `a webhook request is at most ${MAX_BODY_BYTES} bytes of JSON`);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ProtocolError(400, 'the body is not JSON; send ContainerSSH webhook request JSON');
  }
  if (!isObject(body)) throw new ProtocolError(400, 'the body must be a JSON object (ContainerSSH webhook request)');
  return body;
}

function attemptOf(body: Record<string, unknown>): AuthAttempt {
  const username = text(body, 'username');
  if (username === '') throw new ProtocolError(400, 'username is missing; send ContainerSSH webhook request JSON');
  return { username, remoteAddress: text(body, 'remoteAddress'), connectionId: text(body, 'connectionId'), clientVersion: text(body, 'clientVersion') };
}

function text(body: Record<string, unknown>, key: string): string {
  const value = body[key];
  return typeof value === 'string' ? value : '';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

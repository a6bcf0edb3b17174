import type { Config } from '../config/schema.js';
import { parseHostPort } from '../core/net.js';
import { hostKeyFingerprints, loadHostKeys } from '../ssh/hostKeys.js';
import { authorizedKeyLine } from '../ssh/keys.js';

/**
 * What `berth ssh-info` prints: where the SSH gateway listens, the command
 * users type, and the host key fingerprints to check the first connection
 * against (the keys are made now if the gateway has not run yet, so the
 * operator can publish them before anyone connects).
 */
export async function sshInfo(config: Config): Promise<string> {
  const listen = config.listen.ssh === null ? null : parseHostPort(config.listen.ssh);
  if (listen === null) return 'SSH is off (listen.ssh is null). Set listen.ssh, e.g. "0.0.0.0:2222", to turn it on.\n';
  const keys = loadHostKeys(config.dataDir);
  const host = publicHost(listen.host, config.publicUrl);
  const hostForSsh = host.includes(':') ? `[${host}]` : host;
  const knownHostsName = listen.port === 22 ? hostForSsh : `[${host}]:${listen.port}`;
  const port = listen.port === 22 ? '' : `-p ${listen.port} `;
  const keySources = [
    `POST /_berth/api/me/keys with {"key": "<contents of ~/.ssh/id_ed25519.pub>"}`,
    ...(config.ssh.authorizedKeysDir === null ? [] : [`a line in ${config.ssh.authorizedKeysDir}/<username>`]),
    ...(config.ssh.webhook.url === null ? [] : [`the webhook at ${config.ssh.webhook.url}`]),
  ];
  return [
    `SSH gateway listening on ${config.listen.ssh}`,
    '',
    'Connect with:',
    `  ssh ${port}<username>@${hostForSsh}`,
    `  sftp ${port.replace('-p', '-P')}<username>@${hostForSsh}`,
    '',
    'Host key fingerprints (what ssh shows on the first connection):',
    ...hostKeyFingerprints(keys).map((f) => `  ${f}`),
    '',
    'known_hosts lines:',
    ...keys.map((k) => `  ${knownHostsName} ${authorizedKeyLine(k.public, false)}`),
    '',
    'Users are let in by their public keys, from:',
    ...keySources.map((s) => `  ${s}`),
    '',
  ].join('\n');
}

/** The name users reach the gateway by: the listen address unless it is a wildcard, else publicUrl's host. */
function publicHost(listenHost: string, publicUrl: string): string {
  if (listenHost !== '0.0.0.0' && listenHost !== '::') return listenHost;
  return new URL(publicUrl).hostname.replace(/^\[|\]$/g, '');
}

import type { Config } from '../config/schema.js';
import { parseHostPort } from '../core/net.js';
import { gatewayHostKeys, hostKeyFingerprints, loadHostKeys, type HostKey } from '../ssh/hostKeys.js';
import { Store } from '../store/store.js';
import { authorizedKeyLine } from '../ssh/keys.js';

/** How users reach the SSH gateway: the commands to type and what to check the host key against. */
export interface SshAccess {
  listen: string;
  /** e.g. "ssh -p 2222 alice@berth.example.org". */
  command: string;
  sftpCommand: string;
  fingerprints: string[];
  knownHosts: string[];
}

/** Null when SSH is off (listen.ssh is null). `keys` are the gateway's host keys (gatewayHostKeys). */
export function sshAccess(config: Config, keys: readonly HostKey[], user = '<username>'): SshAccess | null {
  const listen = config.listen.ssh === null ? null : parseHostPort(config.listen.ssh);
  if (listen === null || config.listen.ssh === null) return null;
  const host = publicHost(listen.host, config.publicUrl);
  const hostForSsh = host.includes(':') ? `[${host}]` : host;
  const knownHostsName = listen.port === 22 ? hostForSsh : `[${host}]:${listen.port}`;
  const port = listen.port === 22 ? '' : `-p ${listen.port} `;
  return {
    listen: config.listen.ssh,
    command: `ssh ${port}${user}@${hostForSsh}`,
    sftpCommand: `sftp ${port.replace('-p', '-P')}${user}@${hostForSsh}`,
    fingerprints: hostKeyFingerprints(keys),
    knownHosts: keys.map((k) => `${knownHostsName} ${authorizedKeyLine(k.public, false)}`),
  };
}

/**
 * What `berth ssh-info` prints: where the SSH gateway listens, the command
 * users type, and the host key fingerprints to check the first connection
 * against (the keys are made now if the gateway has not run yet, so the
 * operator can publish them before anyone connects).
 */
export async function sshInfo(config: Config): Promise<string> {
  const access = config.listen.ssh === null ? null : sshAccess(config, await hostKeysOf(config));
  if (access === null) return 'SSH is off (listen.ssh is null). Set listen.ssh, e.g. "0.0.0.0:2222", to turn it on.\n';
  const keySources = [
    `the dashboard's "SSH keys" section (${new URL('/_berth/#keys', config.publicUrl).href}), or POST /_berth/api/me/keys with {"key": "<contents of ~/.ssh/id_ed25519.pub>"}`,
    ...(config.ssh.authorizedKeysDir === null ? [] : [`a line in ${config.ssh.authorizedKeysDir}/<username>`]),
    ...(config.ssh.webhook.url === null ? [] : [`the webhook at ${config.ssh.webhook.url}`]),
  ];
  return [
    `SSH gateway listening on ${access.listen}`,
    '',
    'Connect with:',
    `  ${access.command}`,
    `  ${access.sftpCommand}`,
    '',
    'Host key fingerprints (what ssh shows on the first connection):',
    ...access.fingerprints.map((f) => `  ${f}`),
    '',
    'known_hosts lines:',
    ...access.knownHosts.map((line) => `  ${line}`),
    '',
    'Users are let in by their public keys, from:',
    ...keySources.map((s) => `  ${s}`),
    '',
  ].join('\n');
}

/** On PostgreSQL the host keys are in the store, which ssh-info then opens (and migrates, on a new one); on SQLite, files. */
async function hostKeysOf(config: Config): Promise<HostKey[]> {
  if (config.store.kind !== 'postgres') return loadHostKeys(config.dataDir);
  const store = await Store.open(config.dataDir, config.store);
  try {
    return await gatewayHostKeys(config, store);
  } finally {
    await store.close();
  }
}

/** The name users reach the gateway by: the listen address unless it is a wildcard, else publicUrl's host. */
function publicHost(listenHost: string, publicUrl: string): string {
  if (listenHost !== '0.0.0.0' && listenHost !== '::') return listenHost;
  return new URL(publicUrl).hostname.replace(/^\[|\]$/g, '');
}

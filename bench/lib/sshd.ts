import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { startCommand, type ServerProcess } from './processes.js';

export const SSHD = '/usr/sbin/sshd';

export interface Sshd extends ServerProcess {
  /** Who the client logs in as: whoever runs the bench, as an sshd that is not root can only let in itself. */
  user: string;
}

/**
 * OpenSSH's sshd as an unprivileged set-up: its own config, host key, pid
 * file and authorized_keys in `dir`, listening on a free loopback port, in the
 * foreground (-D) so it ends with the bench. Touches no system configuration.
 */
export async function startSshd(dir: string, authorizedKeys: string): Promise<Sshd> {
  mkdirSync(dir, { recursive: true });
  const hostKey = makeKey(join(dir, 'ssh_host_ed25519_key'));
  writeFileSync(join(dir, 'authorized_keys'), authorizedKeys, { mode: 0o600 });
  const port = await freeLoopbackPort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      // The files live in a temporary directory whose modes sshd's checks were not written for.
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      '',
    ].join('\n'),
  );
  // As root, sshd insists on its privilege separation directory, which a machine without a running sshd may lack.
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const daemon = await startCommand(SSHD, ['-D', '-e', '-f', config], {}, { port });
  return { ...daemon, user: userInfo().username };
}

/** A new ed25519 key pair without a passphrase at `path` (and `path`.pub); returns `path`. */
export function makeKey(path: string): string {
  const keygen = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', path], { timeout: 30_000 });
  if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr.toString()}`);
  return path;
}

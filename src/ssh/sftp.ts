/**
 * The `sftp` subsystem: the image's own sftp-server, run through exec with
 * its bytes passed through untouched (no SFTP parsing in the gateway, so every
 * extension the client and server agree on works, and modern scp with it).
 * One small sh script picks the first candidate that exists, so finding and
 * starting it cost one exec; when none does, it says in one line what to
 * install.
 */
const FIND_AND_RUN = [
  'for p in "$@"; do [ -x "$p" ] && exec "$p"; done',
  'echo "berth: no sftp-server in your environment (looked for: $*); install openssh-sftp-server (Debian, Ubuntu) or openssh (Alpine, Fedora), or set ssh.sftpServerPath" >&2',
  // The client's first packet is on its way; on Podman (conmon) input that
  // arrives after the process ended resets the exec stream and loses this line.
  'sleep 1',
  'exit 127',
].join('; ');

export function sftpServerCommand(candidates: readonly string[]): string[] {
  return ['/bin/sh', '-c', FIND_AND_RUN, 'berth-sftp', ...candidates];
}

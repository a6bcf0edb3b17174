/**
 * Legacy scp (`scp -O`, and the default of OpenSSH clients before 9.0) runs
 * `scp -t <path>` or `scp -f <path>` on the far side: the image's own scp
 * program. Without one the client would show only "scp: not found"; this
 * check, prepended to exactly those commands, says what to do instead.
 * Everything else runs as sent.
 */
const NO_SCP =
  'berth: scp -O (the legacy scp protocol, the default of OpenSSH before 9.0) needs an scp program in your environment; install openssh-client (Debian, Ubuntu) or openssh (Alpine, Fedora), or copy with scp without -O (over SFTP) or sftp';

/** `scp` followed by option words, one of them carrying -t (to) or -f (from): what scp clients send. */
const LEGACY_SCP = /^scp((?:\s+-[A-Za-z]+)+)(?:\s|$)/;

export function withScpCheck(command: string): string {
  const options = LEGACY_SCP.exec(command.trim())?.[1];
  if (options === undefined || !/-[A-Za-z]*[tf]/.test(options)) return command;
  return `command -v scp >/dev/null 2>&1 || { echo '${NO_SCP}' >&2; exit 127; }; ${command}`;
}

export const FALLBACK_SHELL = '/bin/sh';

/**
 * The login shell /etc/passwd gives the container's user. `user` is the
 * container's configured user as docker takes it: empty (root), a name or a
 * uid, optionally followed by ":group".
 */
export function loginShellFrom(passwd: string, user: string): string {
  const who = user.split(':')[0] || '0';
  for (const line of passwd.split('\n')) {
    const fields = line.split(':');
    if (fields.length < 7 || line.startsWith('#')) continue;
    if (fields[0] === who || fields[2] === who) return fields[6]?.trim() || FALLBACK_SHELL;
  }
  return FALLBACK_SHELL;
}

/**
 * Whether users other than this process's could change (or read) a file: the checks ssh makes
 * of its keys. A file owned by another user is that user's to rewrite whatever its mode (root's
 * files aside: root can rewrite anything anyway); group and other bits say the rest. Where
 * there are no uids (Windows) only the mode is checked.
 */
import type { Stats } from 'node:fs';

/** A mode as `ls` and `chmod` write it: 0644. */
export function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

/** This process's user, when the platform has uids. */
export function currentUid(): number | undefined {
  return process.getuid?.();
}

/**
 * Why another user could write the file with these stats, or with `secret` also read it, as the
 * end of a sentence ("is owned by another user (uid 1001)"); undefined when no one else can.
 */
export function exposure(st: Stats, secret: boolean): string | undefined {
  const me = currentUid();
  if (me !== undefined && st.uid !== me && st.uid !== 0) return `is owned by another user (uid ${st.uid})`;
  if ((st.mode & (secret ? 0o077 : 0o022)) !== 0) {
    return `${secret ? 'is accessible to' : 'can be changed by'} other users (mode ${octal(st.mode)})`;
  }
  return undefined;
}

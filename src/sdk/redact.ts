/**
 * A URL as it may appear in a message or a log line: user and password masked. Messages name
 * the daemon they could not reach, and a URL such as `http://user:secret@host` must not carry
 * its secret into a terminal or a log.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.includes('@') ? '(a URL that does not parse)' : url;
  }
  if (u.username === '' && u.password === '') return url;
  u.username = '***';
  u.password = '';
  return u.href;
}

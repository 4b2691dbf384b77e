/**
 * The data directory holds a node's key, its API token and its store: only its owner may enter
 * it. The daemons make it 0700 at every start, not only when they create it (a directory made
 * by hand, restored from a backup or left by an older version may be 0755), and refuse one that
 * another user owns: that user could read the key and replace `api.json`.
 *
 * A symlink is followed, as an lnd user who moved `~/.lnd` to another disk expects: the directory
 * it points to must be this user's (and is made 0700), and so must the link itself (root's
 * aside), or the link's owner could point it somewhere else later. A dangling link, or one to
 * something that is not a directory, is refused.
 */
import { chmodSync, lstatSync, mkdirSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { LanesError } from '../core/errors.ts';
import { currentUid } from './permissions.ts';

export class DataDirError extends LanesError {
  override name = 'DataDirError';
  constructor(message: string, details?: string) {
    super(message, { code: 'DATA_DIR', ...(details === undefined ? {} : { details }) });
  }
}

/**
 * Creates the data directory (0700) or checks the one there and makes it 0700. Returns the mode
 * an existing one had when it was not 0700, for the daemon to log.
 */
export function prepareDataDir(path: string): { readonly previousMode?: number } {
  const link = lstatOrUndefined(path);
  if (link === undefined) mkdirSync(path, { recursive: true, mode: 0o700 });
  const me = currentUid();
  if (link?.isSymbolicLink() && me !== undefined && link.uid !== me && link.uid !== 0) {
    throw new DataDirError(`data directory ${path} is a symlink owned by another user (uid ${link.uid})`);
  }
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    throw new DataDirError(`data directory ${path} is a symlink to ${readlinkSync(path)}, which does not exist`);
  }
  if (!st.isDirectory()) throw new DataDirError(`data directory ${path} is not a directory`);
  if (me !== undefined && st.uid !== me) {
    throw new DataDirError(
      `data directory ${path} is owned by another user (uid ${st.uid}), not by this one (uid ${me})`,
      'run the daemon as the user that owns it, or give it to this one (chown)',
    );
  }
  const mode = st.mode & 0o777;
  if (mode === 0o700) return {};
  chmodSync(path, 0o700);
  return link === undefined ? {} : { previousMode: mode }; // a new one is only the umask's doing
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw e;
  }
}

import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type FileStat } from '../vfs/types.js';

/** Looks up display names for ids; a missing name shows the number, as `ls -n` would. */
export interface NameLookup {
  userName?(uid: number): string | undefined;
  groupName?(gid: number): string | undefined;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS_SECONDS = 182 * 24 * 3600;

const TYPE_CHARS: ReadonlyMap<number, string> = new Map([
  [S_IFDIR, 'd'],
  [S_IFREG, '-'],
  [S_IFLNK, 'l'],
  [0o020000, 'c'],
  [0o060000, 'b'],
  [0o010000, 'p'],
  [0o140000, 's'],
]);

function tripletChars(
  mode: number,
  shift: number,
  special: { set: boolean; char: string },
): string {
  const bits = (mode >> shift) & 7;
  const r = bits & 4 ? 'r' : '-';
  const w = bits & 2 ? 'w' : '-';
  let x = bits & 1 ? 'x' : '-';
  if (special.set) x = bits & 1 ? special.char : special.char.toUpperCase();
  return r + w + x;
}

/** The ten-character mode column of `ls -l`, with setuid/setgid/sticky shown as s/S and t/T. */
export function modeString(mode: number): string {
  const type = TYPE_CHARS.get(mode & S_IFMT) ?? '?';
  return (
    type +
    tripletChars(mode, 6, { set: (mode & 0o4000) !== 0, char: 's' }) +
    tripletChars(mode, 3, { set: (mode & 0o2000) !== 0, char: 's' }) +
    tripletChars(mode, 0, { set: (mode & 0o1000) !== 0, char: 't' })
  );
}

/** "Mon dd HH:MM" for recent times, "Mon dd  YYYY" for old or future ones (UTC). */
export function timeString(mtime: number, now: number): string {
  const date = new Date(mtime * 1000);
  const day = String(date.getUTCDate()).padStart(2, ' ');
  const head = `${MONTHS[date.getUTCMonth()]} ${day}`;
  if (mtime > now - SIX_MONTHS_SECONDS && mtime <= now) {
    const hh = String(date.getUTCHours()).padStart(2, '0');
    const mm = String(date.getUTCMinutes()).padStart(2, '0');
    return `${head} ${hh}:${mm}`;
  }
  return `${head}  ${date.getUTCFullYear()}`;
}

/** An `ls -l` line laid out like OpenSSH's sftp-server, for the longname field of READDIR. */
export function formatLongname(
  name: string,
  stat: FileStat,
  options: { names?: NameLookup; now?: number } = {},
): string {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const user = options.names?.userName?.(stat.uid) ?? String(stat.uid);
  const group = options.names?.groupName?.(stat.gid) ?? String(stat.gid);
  const links = String(stat.nlink).padStart(3, ' ');
  const size = String(stat.size).padStart(8, ' ');
  return `${modeString(stat.mode)}  ${links} ${user.padEnd(8)} ${group.padEnd(8)} ${size} ${timeString(stat.mtime, now)} ${name}`;
}

/** Values whose meaning depends on more than the key itself (0 = default, empty = built-in). */
import { VERSION } from '../version.js';
import { SSH_COMMANDS } from './choices.js';

/** A command `enabled_ssh_commands` can name ("*" aside). */
export type SshCommandName = Exclude<(typeof SSH_COMMANDS)[number], '*'>;

const DEFAULT_AUTH_TRIES = 6;

/** Attempts allowed: 0 means 6, a negative value means no limit (Infinity). */
export function effectiveMaxAuthTries(maxAuthTries: number): number {
  if (maxAuthTries < 0) return Number.POSITIVE_INFINITY;
  return maxAuthTries === 0 ? DEFAULT_AUTH_TRIES : maxAuthTries;
}

/** The SSH software-version string: the configured banner or `kubesftp_<version>`. */
export function effectiveBanner(banner: string): string {
  return banner === '' ? `kubesftp_${VERSION}` : banner;
}

/** The umask as a number, e.g. "0022" -> 0o022. */
export function umaskValue(umask: string): number {
  return Number.parseInt(umask, 8);
}

/**
 * The SSH commands clients may run: the configured list, every command for "*", plus "scp"
 * when the deprecated `enable_scp` is on.
 */
export function effectiveSshCommands(
  enabled: readonly string[],
  enableScp: boolean,
): ReadonlySet<SshCommandName> {
  const all = SSH_COMMANDS.filter((name): name is SshCommandName => name !== '*');
  const chosen = new Set(
    enabled.includes('*') ? all : all.filter((name) => enabled.includes(name)),
  );
  if (enableScp) chosen.add('scp');
  return chosen;
}

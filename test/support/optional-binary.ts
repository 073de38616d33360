import { existsSync } from 'node:fs';

/** A program some tests need that `npm ci` does not install. */
export interface OptionalBinary {
  path: string;
  /** The environment variable that points at another copy. */
  env: string;
  /** Where it comes from. */
  install: string;
}

/** Debian's promtool, from the package `prometheus` (which CI installs for the e2e tests). */
export const PROMTOOL: OptionalBinary = {
  path: process.env.PROMTOOL_BIN ?? '/usr/bin/promtool',
  env: 'PROMTOOL_BIN',
  install: 'apt-get install prometheus',
};

/** systemd's unit checker, from the package `systemd`. */
export const SYSTEMD_ANALYZE: OptionalBinary = {
  path: process.env.SYSTEMD_ANALYZE_BIN ?? '/usr/bin/systemd-analyze',
  env: 'SYSTEMD_ANALYZE_BIN',
  install: 'apt-get install systemd',
};

/**
 * Whether `binary` is there. When it is not, says on stderr which checks do not run and how to
 * get it, so a run without it is never mistaken for one that passed them. Use the answer with
 * `describe.runIf`, never a skip.
 *
 * @example describe.runIf(available(PROMTOOL, 'promtool check metrics'))('...', () => {...});
 */
export function available(binary: OptionalBinary, checks: string): boolean {
  if (existsSync(binary.path)) return true;
  process.stderr.write(
    `NOT RUN: ${checks}: ${binary.path} is missing (${binary.install}, or set ${binary.env} to its path)\n`,
  );
  return false;
}

/**
 * Quotes `arg` for a POSIX shell when it needs it, so a command the tools print (a hint, a
 * suggestion) can be pasted as it is, whatever path or name it repeats.
 *
 * @example shellQuote("/srv/relay data") // "'/srv/relay data'"
 */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

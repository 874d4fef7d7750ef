/**
 * Text in the terminal's character set, as GLib's g_print converts it: in a
 * locale whose character set is not UTF-8 (plain C, POSIX), each character
 * outside ASCII becomes '?'. Used where ostree's output is reproduced exactly
 * (the figure space of a date, the no-break space of a size).
 */

/** The locale's character set is UTF-8 (LC_ALL, then LC_CTYPE, then LANG decide, as setlocale does). */
export function localeIsUtf8(env: NodeJS.ProcessEnv): boolean {
  const name = env.LC_ALL || env.LC_CTYPE || env.LANG || 'C';
  return /\.utf-?8(@|$)/i.test(name);
}

/** `text` as g_print writes it under `env`'s locale. */
export function forLocale(text: string, env: NodeJS.ProcessEnv): string {
  // eslint-disable-next-line no-control-regex
  return localeIsUtf8(env) ? text : text.replace(/[^\u0000-\u007f]/gu, '?');
}

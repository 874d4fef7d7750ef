/**
 * Dates as GLib's g_date_time_format writes them in the C locale, for the
 * places where ostree prints one (GPG signature descriptions). Local time:
 * the caller's time zone decides, as it does for ostree.
 */

/** U+2007 FIGURE SPACE: GLib's padding for a one-digit day of the month (%e). */
export const FIGURE_SPACE = '\u2007';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const two = (n: number): string => String(n).padStart(2, '0');

/** `%e`: the day of the month, a one-digit day preceded by a figure space (not an ASCII space). */
export function glibDayOfMonth(day: number): string {
  return day < 10 ? `${FIGURE_SPACE}${day}` : String(day);
}

/**
 * `%c` in the C locale, `%a %b %e %H:%M:%S %Y`: `Tue Dec ${FIGURE_SPACE}1 22:36:23 2026`,
 * `Sat Nov 14 07:46:48 2026`. `secs` is seconds since the epoch.
 */
export function formatGlibDateTime(secs: number): string {
  const d = new Date(secs * 1000);
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${glibDayOfMonth(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
}

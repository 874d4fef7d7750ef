/**
 * A remote's cookie jar, `NAME.cookies.txt` in the repository: the
 * Netscape/curl text format, one cookie a line, seven fields separated by
 * tabs (domain, include-subdomains flag, path, secure, expiry in seconds,
 * name, value). Lines are read as libostree reads them: seven
 * whitespace-separated fields, anything else (comments, blank lines) kept
 * but not a cookie.
 */

export interface Cookie {
  domain: string;
  /** TRUE when the domain starts with '.' (sub-domains match too). */
  includeSubdomains: string;
  path: string;
  secure: string;
  expires: number;
  name: string;
  value: string;
}

/** The cookie a jar line holds, or null. */
export function parseCookieLine(line: string): Cookie | null {
  const f = line.trim().split(/\s+/);
  if (f.length < 7 || !/^\d+$/.test(f[4])) return null;
  return { domain: f[0], includeSubdomains: f[1], path: f[2], secure: f[3], expires: Number(f[4]), name: f[5], value: f[6] };
}

export function parseCookieJar(text: string): Cookie[] {
  return text.split('\n').map(parseCookieLine).filter((c): c is Cookie => c !== null);
}

/** The line a new cookie is added as, expiring in 25 years (as libostree writes it). */
export function cookieLine(domain: string, path: string, name: string, value: string, nowSecs: number): string {
  const expires = new Date(nowSecs * 1000);
  expires.setUTCFullYear(expires.getUTCFullYear() + 25);
  return `${domain}\t${domain.startsWith('.') ? 'TRUE' : 'FALSE'}\t${path}\tFALSE\t${Math.floor(expires.getTime() / 1000)}\t${name}\t${value}\n`;
}

/** The `Cookie:` header value for a request to `url` at `nowSecs`, or null when no cookie applies. */
export function cookieHeader(cookies: Cookie[], url: URL, nowSecs: number): string | null {
  const host = url.hostname.toLowerCase();
  const out: string[] = [];
  for (const c of cookies) {
    const domain = c.domain.toLowerCase().replace(/^#httponly_/, '');
    const bare = domain.replace(/^\./, '');
    const hostOk = host === bare || ((c.includeSubdomains === 'TRUE' || domain.startsWith('.')) && host.endsWith(`.${bare}`));
    if (!hostOk) continue;
    const p = url.pathname || '/';
    const pathOk = p === c.path || (p.startsWith(c.path) && (c.path.endsWith('/') || p[c.path.length] === '/'));
    if (!pathOk) continue;
    if (c.secure === 'TRUE' && url.protocol !== 'https:') continue;
    if (c.expires !== 0 && c.expires <= nowSecs) continue;
    out.push(`${c.name}=${c.value}`);
  }
  return out.length ? out.join('; ') : null;
}

/**
 * OpenPGP Web Key Directory addresses of a user ID's e-mail address (the
 * "advanced" and "direct" methods): the local part, lower-cased, hashed
 * with SHA-1 and written in z-base-32, under the domain's well-known path.
 */
import { createHash } from 'node:crypto';

const ZBASE32 = 'ybndrfg8ejkmcpqxot1uwisza345h769';

export function zbase32(data: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of data) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ZBASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ZBASE32[(acc << (5 - bits)) & 31];
  return out;
}

export interface WkdUrls {
  advanced: string;
  direct: string;
}

/** The two update URLs of `email` (LOCAL@DOMAIN), or null when it is not an address. */
export function wkdUrls(email: string): WkdUrls | null {
  const at = email.lastIndexOf('@');
  if (at <= 0 || at === email.length - 1) return null;
  const local = email.slice(0, at).toLowerCase();
  const domain = email.slice(at + 1).toLowerCase();
  const hash = zbase32(createHash('sha1').update(local, 'utf8').digest());
  const query = `?l=${encodeURIComponent(local)}`;
  return {
    advanced: `https://openpgpkey.${domain}/.well-known/openpgpkey/${domain}/hu/${hash}${query}`,
    direct: `https://${domain}/.well-known/openpgpkey/hu/${hash}${query}`,
  };
}

/**
 * OpenPGP signatures as OSTree stores them: binary (not armored) detached
 * signature packets over the exact bytes of a commit object or summary, as
 * `aay` under `ostree.gpgsigs`. The cryptography is OpenPGP.js, loaded only
 * when a GPG signature is made or checked. Keys come from exported key files
 * (armored or binary); a GnuPG home directory counts when it holds such files.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { fsp, path } from '../io/fs.js';

export const GPG_METADATA_KEY = 'ostree.gpgsigs';

/** An OpenPGP key (public, or secret with its public part), as the layers above hold it. */
export type OpenPgpKey = import('openpgp').Key;

type OpenPGP = typeof import('openpgp');
let loaded: Promise<OpenPGP> | null = null;
function openpgp(): Promise<OpenPGP> {
  loaded ??= import('openpgp');
  return loaded;
}

/** Key files in a directory: what an exported keyring is usually called. */
const KEY_FILE = /\.(asc|gpg|pgp|key|pub|sec)$/i;

export interface GpgKeyInfo {
  /** Long key ID (16 hex digits) of the key or subkey that signed. */
  keyId: string;
  /** Fingerprint of the primary key. */
  fingerprint: string;
  userIds: string[];
  /** When the signature was made (seconds since the epoch), when it says. */
  created?: number;
  /** The signature's public-key algorithm as gpgme names it (RSA, EdDSA, ...). */
  algorithm?: string;
}

/** OpenPGP public-key algorithm numbers (RFC 9580 §9.1) as gpgme_pubkey_algo_name prints them. */
const ALGORITHMS: Record<number, string> = { 1: 'RSA', 2: 'RSA', 3: 'RSA', 16: 'ELG', 17: 'DSA', 18: 'ECDH', 19: 'ECDSA', 20: 'ELG', 22: 'EdDSA', 27: 'EdDSA', 28: 'EdDSA' };

async function keyFilesIn(locations: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const loc of locations) {
    const st = await fsp.stat(loc).catch(() => null);
    if (!st) throw new OstreeTsError(Codes.KEY, `GPG key file or directory ${loc} does not exist.`, { path: loc });
    if (st.isDirectory()) {
      for (const name of (await fsp.readdir(loc)).sort()) {
        if (KEY_FILE.test(name) || name === 'pubring.gpg' || name === 'secring.gpg') files.push(path.join(loc, name));
      }
    } else files.push(loc);
  }
  return files;
}

async function readKeyBlobs(pgp: OpenPGP, file: string, secret: boolean, given?: Buffer): Promise<import('openpgp').Key[]> {
  const data = given ?? await fsp.readFile(file);
  const text = data.toString('latin1');
  try {
    if (text.includes('-----BEGIN PGP')) {
      // A file may hold several armored blocks one after another (exports appended to each other): read them all, as gpg does.
      const blocks = data.toString('utf8').match(/-----BEGIN PGP (?:PUBLIC|PRIVATE) KEY BLOCK-----[\s\S]*?-----END PGP (?:PUBLIC|PRIVATE) KEY BLOCK-----/g) ?? [data.toString('utf8')];
      const keys: import('openpgp').Key[] = [];
      for (const armoredKeys of blocks) {
        if (secret && armoredKeys.includes('-----BEGIN PGP PUBLIC KEY')) continue;
        keys.push(...(secret ? await pgp.readPrivateKeys({ armoredKeys }) : await pgp.readKeys({ armoredKeys })));
      }
      return keys;
    }
    return secret ? await pgp.readPrivateKeys({ binaryKeys: data }) : await pgp.readKeys({ binaryKeys: data });
  } catch (e) {
    throw new OstreeTsError(Codes.KEY, `${file} holds no usable OpenPGP ${secret ? 'secret' : 'public'} key (${(e as Error).message}). Export one with gpg --export${secret ? '-secret-keys' : ''} --armor KEY-ID > ${path.basename(file)}.`, { path: file }, { cause: e });
  }
}

/** Public keys (for verification) from files and directories of exported keys; secret keys count too. */
export async function loadPublicKeys(locations: string[]): Promise<import('openpgp').Key[]> {
  const pgp = await openpgp();
  const keys: import('openpgp').Key[] = [];
  for (const f of await keyFilesIn(locations)) keys.push(...(await readKeyBlobs(pgp, f, false)));
  return keys;
}

/** Public keys in `data` (armored or binary), read from `name` (a file, or standard input). */
export async function parsePublicKeys(data: Buffer, name: string): Promise<import('openpgp').Key[]> {
  return readKeyBlobs(await openpgp(), name, false, data);
}

/** A keyring file: the public parts of `keys`, binary, one after the other (what libostree reads as NAME.trustedkeys.gpg). */
export function binaryKeyring(keys: import('openpgp').Key[]): Buffer {
  return Buffer.concat(keys.map((k) => Buffer.from(k.toPublic().write())));
}

/** The key IDs and fingerprints (upper-case hex) a detached signature names as its issuer. */
export async function gpgSignatureIssuers(signature: Uint8Array): Promise<string[]> {
  const pgp = await openpgp();
  try {
    const sig = await pgp.readSignature({ binarySignature: signature });
    const out: string[] = [];
    for (const p of sig.packets) {
      const packet = p as { issuerKeyID?: { toHex(): string }; issuerFingerprint?: Uint8Array | null };
      if (packet.issuerKeyID) out.push(packet.issuerKeyID.toHex().toUpperCase());
      if (packet.issuerFingerprint?.length) out.push(Buffer.from(packet.issuerFingerprint).toString('hex').toUpperCase());
    }
    return out;
  } catch {
    return [];
  }
}

/** A KEY-ID as given (fingerprint, long or short key ID, with or without 0x) names one of `issuers`. */
export function namesIssuer(keyId: string, issuers: string[]): boolean {
  const want = keyId.replace(/^0x/i, '').replace(/\s+/g, '').toUpperCase();
  if (want.length < 8) return false;
  return issuers.some((i) => i === want || i.endsWith(want) || want.endsWith(i));
}

/** What `remote gpg-list-keys` shows of a key. */
export interface GpgKeyDescription {
  fingerprint: string;
  /** Seconds since the epoch. */
  created: number;
  expires: number | null;
  /** The primary user ID first. */
  userIds: Array<{ userId: string; email: string | null }>;
  subkeys: Array<{ fingerprint: string; created: number; expires: number | null }>;
}

const secondsOf = (d: Date | number | null | undefined): number | null =>
  d instanceof Date ? Math.floor(d.getTime() / 1000) : null;

type UserIdPacket = NonNullable<import('openpgp').Key['users'][number]['userID']>;

/**
 * The primary user ID as GnuPG picks it: the one whose latest
 * self-signature says so (the latest such), else the one with the latest
 * self-signature, the first of them on a tie.
 */
function primaryUserId(key: import('openpgp').Key): UserIdPacket | null {
  let best: { id: UserIdPacket; flagged: boolean; at: number } | null = null;
  for (const u of key.users) {
    if (!u.userID) continue;
    const certs = [...u.selfCertifications].sort((a, b) => (a.created?.getTime() ?? 0) - (b.created?.getTime() ?? 0));
    const last = certs[certs.length - 1];
    const c = { id: u.userID, flagged: last?.isPrimaryUserID === true, at: last?.created?.getTime() ?? 0 };
    if (!best || (c.flagged && !best.flagged) || (c.flagged === best.flagged && c.at > best.at)) best = c;
  }
  return best?.id ?? null;
}

export async function describeGpgKey(key: import('openpgp').Key): Promise<GpgKeyDescription> {
  const users = key.users.filter((u) => u.userID).map((u) => u.userID as UserIdPacket);
  const first = primaryUserId(key);
  const ordered = first ? [first, ...users.filter((u) => u !== first)] : users;
  const subkeys = [];
  for (const sk of key.getSubkeys()) {
    subkeys.push({ fingerprint: sk.getFingerprint().toUpperCase(), created: secondsOf(sk.getCreationTime()) ?? 0, expires: secondsOf(await sk.getExpirationTime().catch(() => null)) });
  }
  return {
    fingerprint: key.getFingerprint().toUpperCase(),
    created: secondsOf(key.getCreationTime()) ?? 0,
    expires: secondsOf(await key.getExpirationTime().catch(() => null)),
    userIds: ordered.map((u) => ({ userId: u.userID, email: u.email || null })),
    subkeys,
  };
}

/** Whether `key` is the one KEY-ID names (fingerprint, long or short ID of it or a subkey, or part of a user ID). */
export function keyMatches(key: import('openpgp').Key, keyId: string): boolean {
  return matches(key, keyId);
}

function matches(key: import('openpgp').Key, keyId: string): boolean {
  const want = keyId.replace(/^0x/i, '').replace(/\s+/g, '').toLowerCase();
  const ids = [key, ...key.getSubkeys()].flatMap((k) => [k.getFingerprint().toLowerCase(), k.getKeyID().toHex().toLowerCase()]);
  if (ids.some((id) => id === want || (want.length >= 8 && id.endsWith(want)))) return true;
  return key.getUserIDs().some((u) => u.toLowerCase().includes(keyId.toLowerCase()));
}

/** The secret key KEY-ID (fingerprint, long or short ID, or part of a user ID) from exported key files. */
export async function loadSigningKey(keyId: string, locations: string[]): Promise<import('openpgp').PrivateKey> {
  const pgp = await openpgp();
  const files = await keyFilesIn(locations);
  for (const f of files) {
    const text = (await fsp.readFile(f)).toString('latin1');
    if (text.includes('-----BEGIN PGP PUBLIC KEY')) continue;
    let keys: import('openpgp').PrivateKey[];
    try {
      keys = (await readKeyBlobs(pgp, f, true)) as import('openpgp').PrivateKey[];
    } catch {
      continue; // a public keyring next to the secret one
    }
    const key = keys.find((k) => matches(k, keyId));
    if (!key) continue;
    if (!key.isDecrypted()) {
      throw new OstreeTsError(Codes.KEY, `The secret key ${keyId} in ${f} is protected by a passphrase. Export it without one for signing (gpg --pinentry-mode loopback --passphrase '' --export-secret-keys), and keep that file private (mode 0600).`, { keyId, path: f });
    }
    return key;
  }
  throw new OstreeTsError(Codes.KEY, `No secret key ${keyId} in ${locations.join(', ') || '(no key files given)'}. Give the file holding it, exported with gpg --export-secret-keys --armor ${keyId}.`, { keyId, locations });
}

/** A binary detached signature over `data`. */
export async function signGpg(data: Uint8Array, key: import('openpgp').PrivateKey): Promise<Uint8Array> {
  const pgp = await openpgp();
  const message = await pgp.createMessage({ binary: data });
  return pgp.sign({ message, signingKeys: key, detached: true, format: 'binary' }) as Promise<Uint8Array>;
}

function describeKey(keys: import('openpgp').Key[], keyId: string): GpgKeyInfo {
  const key = keys.find((k) => [k, ...k.getSubkeys()].some((s) => s.getKeyID().toHex() === keyId));
  return { keyId, fingerprint: key?.getFingerprint() ?? '', userIds: key?.getUserIDs() ?? [] };
}

/** What the OpenPGP signatures over some bytes come to. */
export interface GpgVerdict {
  /** The key of the first signature that counts, or null when none does. */
  good: GpgKeyInfo | null;
  /** Why each signature that did not count was refused, in order, one sentence each. */
  refused: string[];
}

const iso = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * The signatures among `signatures` (each one binary OpenPGP signature packet
 * sequence) over `data`, judged against the keys in `trusted` as gpgme judges
 * them for ostree: the first good one counts.
 *
 * Time follows GnuPG rather than OpenPGP.js's defaults. A signature made
 * later than `now` (a host whose clock is behind) is good. The key must have
 * been valid when the signature was made, and must still be valid at `now`:
 * created by then (a key from the future is a time conflict), not expired,
 * not revoked. A signature whose own expiry has passed at `now` does not count.
 */
export async function verifyGpg(data: Uint8Array, signatures: Uint8Array[], trusted: import('openpgp').Key[], now: Date): Promise<GpgVerdict> {
  const refused: string[] = [];
  if (!trusted.length) return { good: null, refused };
  const pgp = await openpgp();
  const message = await pgp.createMessage({ binary: data });
  for (const raw of signatures) {
    let signature: import('openpgp').Signature;
    try {
      signature = await pgp.readSignature({ binarySignature: raw });
    } catch {
      refused.push('A signature is not an OpenPGP signature packet.');
      continue;
    }
    // date: null leaves the signature's own times to the checks below (OpenPGP.js would refuse one from the future).
    const result = await pgp.verify({ message, signature, verificationKeys: trusted, format: 'binary', date: null as unknown as Date });
    for (const s of result.signatures) {
      const keyId = s.keyID.toHex().toUpperCase();
      try {
        await s.verified;
      } catch (e) {
        const why = (e as Error).message;
        refused.push(/revoked/i.test(why)
          ? `The signature by key ${keyId} is from a key that has been revoked.`
          : `The signature by key ${keyId} does not verify (${why}).`);
        continue;
      }
      const packet = (await s.signature).packets[0] as { created?: Date | null; publicKeyAlgorithm?: number; getExpirationTime?: () => Date | number } | undefined;
      const expires = packet?.getExpirationTime?.();
      if (expires instanceof Date && expires.getTime() <= now.getTime()) {
        refused.push(`The signature by key ${keyId} expired at ${iso(expires)}.`);
        continue;
      }
      const problem = await keyProblemAt(trusted, s.keyID, now);
      if (problem) {
        refused.push(`The signature by key ${keyId} is from a key that ${problem}.`);
        continue;
      }
      const info = describeKey(trusted, s.keyID.toHex());
      if (packet?.created) info.created = Math.floor(packet.created.getTime() / 1000);
      if (packet?.publicKeyAlgorithm !== undefined && ALGORITHMS[packet.publicKeyAlgorithm]) info.algorithm = ALGORITHMS[packet.publicKeyAlgorithm];
      return { good: info, refused };
    }
  }
  return { good: null, refused };
}

/** Why the key (or subkey) `keyId` among `keys` cannot sign at `now`, as GnuPG sees it; null when it can. */
async function keyProblemAt(keys: import('openpgp').Key[], keyId: import('openpgp').KeyID, now: Date): Promise<string | null> {
  const key = keys.find((k) => k.getKeys(keyId).length > 0);
  if (!key) return 'is not trusted';
  const signing = key.getKeys(keyId)[0];
  if (signing.getCreationTime().getTime() > now.getTime()) return `was created at ${iso(signing.getCreationTime())}, after this host's clock (${iso(now)}); set the clock`;
  if (await key.isRevoked(undefined, undefined, now)) return 'has been revoked';
  const expiry = await key.getExpirationTime().catch(() => null);
  if (expiry instanceof Date && expiry.getTime() <= now.getTime()) return `expired at ${iso(expiry)}`;
  try {
    await key.getSigningKey(keyId, now);
  } catch (e) {
    return `cannot sign at ${iso(now)} (${(e as Error).message})`;
  }
  return null;
}

/** One signature as `show` describes it (libostree's verify result, per signature). */
export interface GpgSignatureReport {
  /** Seconds since the epoch; 0 when the signature does not say. */
  created: number;
  algorithm: string;
  /** Long key ID (16 upper-case hex digits) of the key or subkey that signed. */
  keyId: string;
  status: 'good' | 'bad' | 'expired-signature' | 'revoked' | 'no-key';
  /** The primary user ID's name and e-mail address, when the key is known. */
  name?: string;
  email?: string;
  /** The primary key's long ID, when a subkey signed. */
  primaryKeyId?: string;
  signatureExpires?: { at: number; expired: boolean };
  keyExpires?: { at: number; expired: boolean };
  primaryKeyExpires?: { at: number; expired: boolean };
}

/** Every OpenPGP signature over `data`, judged against `keys` at `now` (none missing from the list, unlike `verifyGpg`). */
export async function describeGpgSignatures(data: Uint8Array, signatures: Uint8Array[], keys: import('openpgp').Key[], now: Date): Promise<GpgSignatureReport[]> {
  const pgp = await openpgp();
  const message = await pgp.createMessage({ binary: data });
  const out: GpgSignatureReport[] = [];
  const secs = (d: Date): number => Math.floor(d.getTime() / 1000);
  for (const raw of signatures) {
    let signature: import('openpgp').Signature;
    try {
      signature = await pgp.readSignature({ binarySignature: raw });
    } catch {
      continue;
    }
    // One verification per signature block; each packet's result, by the key ID it names.
    const checks = new Map<string, Promise<boolean>>();
    if (keys.length) {
      const result = await pgp.verify({ message, signature, verificationKeys: keys, format: 'binary', date: null as unknown as Date }).catch(() => null);
      for (const v of result?.signatures ?? []) checks.set(v.keyID.toHex().toUpperCase(), v.verified.then(() => true, () => false));
    }
    for (const p of signature.packets) {
      const packet = p as unknown as { created?: Date | null; publicKeyAlgorithm?: number; issuerKeyID: import('openpgp').KeyID; getExpirationTime?: () => Date | number };
      const keyId = packet.issuerKeyID.toHex().toUpperCase();
      const r: GpgSignatureReport = {
        created: packet.created ? secs(packet.created) : 0,
        algorithm: ALGORITHMS[packet.publicKeyAlgorithm ?? -1] ?? 'unknown',
        keyId,
        status: 'no-key',
      };
      const sigExpiry = packet.getExpirationTime?.();
      if (sigExpiry instanceof Date) r.signatureExpires = { at: secs(sigExpiry), expired: sigExpiry.getTime() <= now.getTime() };
      out.push(r);
      const key = keys.find((k) => k.getKeys(packet.issuerKeyID).length > 0);
      if (!key) continue;
      const signing = key.getKeys(packet.issuerKeyID)[0];
      const user = primaryUserId(key);
      r.name = user ? (user.name || (user.email ? '' : user.userID)) : '';
      r.email = user?.email ?? '';
      if (signing.getKeyID().toHex() !== key.getKeyID().toHex()) r.primaryKeyId = key.getKeyID().toHex().toUpperCase();
      const keyExpiry = signing === (key as unknown) ? await key.getExpirationTime().catch(() => null) : await (signing as import('openpgp').Subkey).getExpirationTime().catch(() => null);
      const keyExpired = keyExpiry instanceof Date && keyExpiry.getTime() <= now.getTime();
      if (keyExpiry instanceof Date) r.keyExpires = { at: secs(keyExpiry), expired: keyExpired };
      if (r.primaryKeyId) {
        const primaryExpiry = await key.getExpirationTime().catch(() => null);
        if (primaryExpiry instanceof Date) r.primaryKeyExpires = { at: secs(primaryExpiry), expired: keyExpired };
      }
      const verified = await (checks.get(keyId) ?? Promise.resolve(false));
      if (await key.isRevoked(undefined, undefined, now).catch(() => false)) r.status = 'revoked';
      else if (verified && !keyExpired && !r.signatureExpires?.expired) r.status = 'good';
      else if (verified && r.signatureExpires?.expired) r.status = 'expired-signature';
      else r.status = 'bad';
    }
  }
  return out;
}

/** `show`'s "Found N signatures" block, as libostree words it (dates in the local time zone). */
export function renderGpgSignatures(reports: GpgSignatureReport[], formatDate: (secs: number) => string): string {
  let text = `Found ${reports.length} signature${reports.length === 1 ? '' : 's'}:\n`;
  for (const r of reports) {
    const who = `"${r.name ?? ''} <${r.email ?? ''}>"`;
    text += `\n  Signature made ${formatDate(r.created)} using ${r.algorithm} key ID ${r.keyId}\n`;
    text += `  ${{ 'no-key': "Can't check signature: public key not found", good: `Good signature from ${who}`, revoked: 'Key revoked', 'expired-signature': `Expired signature from ${who}`, bad: `BAD signature from ${who}` }[r.status]}\n`;
    if (r.status !== 'no-key' && r.primaryKeyId) text += `  Primary key ID ${r.primaryKeyId}\n`;
    const exp = (what: string, e?: { at: number; expired: boolean }): void => {
      if (e) text += `  ${what} ${e.expired ? 'expired' : 'expires'} ${formatDate(e.at)}\n`;
    };
    exp('Signature', r.signatureExpires);
    exp('Key', r.keyExpires);
    exp('Primary key', r.primaryKeyExpires);
  }
  return text;
}

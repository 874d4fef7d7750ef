/**
 * Verification policy: what a remote (or the caller) requires of a commit or
 * summary before it is trusted, with OSTree's configuration keys:
 * gpg-verify (default true), gpgkeypath, gpg-verify-summary, sign-verify,
 * sign-verify-summary, verification-ed25519-key, verification-ed25519-file.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import type { VarDict } from '../format/gvariant.js';
import { fsp, path } from '../io/fs.js';
import { SYSTEM_TRUST_DIRS, nodeRepoHost } from '../io/host-env.js';
import type { Repo } from '../repo/repo.js';
import { signaturesIn } from './signatures.js';
import { ED25519_METADATA_KEY, encodePublicKey, parsePublicKey, parsePublicKeyList, verifyEd25519 } from './ed25519.js';
import { GPG_METADATA_KEY, loadPublicKeys, verifyGpg, type GpgKeyInfo } from './gpg.js';

export interface VerifyPolicy {
  /** Who asks, for messages: `remote 'origin'`. */
  source: string;
  gpgVerify: boolean;
  gpgVerifySummary: boolean;
  /** Keyring files and directories of trusted OpenPGP keys. */
  gpgKeys: string[];
  /** Signer names that must verify (only 'ed25519' exists), or none. */
  signVerify: string[];
  signVerifySummary: string[];
  /** Trusted ed25519 public keys (32 bytes each). */
  ed25519Keys: Buffer[];
  /** The clock signatures are judged by (milliseconds since the epoch); default this machine's. */
  now?: () => number;
}

export interface VerifyResult {
  /** The commit checksum, or 'summary'. */
  subject: string;
  gpg?: GpgKeyInfo;
  /** base64 public key that verified. */
  ed25519?: string;
  /** Which checks were required. */
  checked: string[];
}


function bool(v: string | undefined, dflt: boolean, key: string, source: string): boolean {
  if (v === undefined) return dflt;
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  throw new OstreeTsError(Codes.REPO_CONFIG, `${source}: ${key}=${v} is not a boolean (true or false).`, { key, value: v });
}

function signers(v: string | undefined, key: string, source: string): string[] {
  if (v === undefined || v === 'false') return [];
  if (v === 'true') return ['ed25519'];
  const names = v.split(/[;,]/).map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (n !== 'ed25519') throw new OstreeTsError(Codes.REPO_CONFIG, `${source}: ${key} names the signer '${n}'; only ed25519 is known.`, { key, value: v });
  }
  return names;
}

async function readIfExists(p: string): Promise<string | null> {
  return fsp.readFile(p, 'utf8').catch(() => null);
}

async function keysFromDir(dir: string): Promise<string[]> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const out: string[] = [];
  for (const n of names.sort()) out.push((await readIfExists(path.join(dir, n))) ?? '');
  return out;
}

/** Trusted ed25519 keys from a key file and its `.d` directory (one base64 key per line). */
export async function ed25519KeysFrom(file: string): Promise<Buffer[]> {
  const texts = [(await readIfExists(file)) ?? '', ...(await keysFromDir(`${file}.d`))];
  return texts.flatMap((t) => parsePublicKeyList(t));
}

/** The policy of remote NAME, from the repository's `[remote "NAME"]` section. */
export async function remotePolicy(repo: Repo, remote: string): Promise<VerifyPolicy> {
  const section = `remote "${remote}"`;
  const source = `remote '${remote}'`;
  if (!repo.config.group(section)) {
    throw new OstreeTsError(Codes.NOT_FOUND, `No remote '${remote}' in ${repo.path}/config. Add it with 'ostree-ts remote add ${remote} URL'.`, { remote });
  }
  const get = (k: string): string | undefined => repo.config.get(section, k);
  const gpgKeys: string[] = [];
  const keyring = path.join(repo.path, `${remote}.trustedkeys.gpg`);
  if (await fsp.stat(keyring).catch(() => null)) gpgKeys.push(keyring);
  for (const p of (get('gpgkeypath') ?? '').split(/[;,]/).map((s) => s.trim()).filter(Boolean)) gpgKeys.push(p);
  const ed25519Keys: Buffer[] = [];
  const inline = get('verification-ed25519-key');
  if (inline) {
    const k = parsePublicKey(inline);
    if (!k) throw new OstreeTsError(Codes.REPO_CONFIG, `${source}: verification-ed25519-key is not a base64 ed25519 public key.`, { remote });
    ed25519Keys.push(k);
  }
  const file = get('verification-ed25519-file');
  if (file) {
    if (!(await fsp.stat(file).catch(() => null))) throw new OstreeTsError(Codes.REPO_CONFIG, `${source}: verification-ed25519-file ${file} does not exist.`, { remote, path: file });
    ed25519Keys.push(...(await ed25519KeysFrom(file)));
  }
  const signVerify = signers(get('sign-verify'), 'sign-verify', source);
  const signVerifySummary = signers(get('sign-verify-summary'), 'sign-verify-summary', source);
  if (!inline && !file && (signVerify.length || signVerifySummary.length)) {
    for (const d of SYSTEM_TRUST_DIRS) ed25519Keys.push(...(await ed25519KeysFrom(path.join(d, 'trusted.ed25519'))));
  }
  // Keys revoked system-wide never verify, however they were configured.
  const revoked = new Set<string>();
  for (const d of SYSTEM_TRUST_DIRS) for (const k of await ed25519KeysFrom(path.join(d, 'revoked.ed25519'))) revoked.add(k.toString('hex'));
  const trusted = ed25519Keys.filter((k) => !revoked.has(k.toString('hex')));
  return {
    source,
    gpgVerify: bool(get('gpg-verify'), true, 'gpg-verify', source),
    gpgVerifySummary: bool(get('gpg-verify-summary'), false, 'gpg-verify-summary', source),
    gpgKeys,
    signVerify,
    signVerifySummary,
    ed25519Keys: trusted,
    now: () => repo.host.now(),
  };
}

function fail(subject: string, policy: VerifyPolicy, what: string, next: string, data: Record<string, unknown> = {}): OstreeTsError {
  return new OstreeTsError(Codes.SIGNATURE, `${subject} ${what}, and ${policy.source} requires a valid one (${String(data.check ?? 'policy')}). ${next}`, { subject, policy: policy.source, ...data });
}

/** Check signatures over `data` (held in `sigs`) against what `policy` requires for a commit or the summary. */
export async function verifySignatures(
  data: Uint8Array, sigs: VarDict | null, policy: VerifyPolicy, what: { kind: 'commit'; checksum: string } | { kind: 'summary' },
  now: Date = new Date((policy.now ?? nodeRepoHost().now)()),
): Promise<VerifyResult> {
  const subject = what.kind === 'commit' ? `Commit ${what.checksum}` : 'The summary';
  const needGpg = what.kind === 'commit' ? policy.gpgVerify : policy.gpgVerifySummary;
  const needSign = what.kind === 'commit' ? policy.signVerify : policy.signVerifySummary;
  const gpgKey = what.kind === 'commit' ? 'gpg-verify' : 'gpg-verify-summary';
  const signKey = what.kind === 'commit' ? 'sign-verify' : 'sign-verify-summary';
  const result: VerifyResult = { subject: what.kind === 'commit' ? what.checksum : 'summary', checked: [] };
  if (needGpg) {
    result.checked.push(gpgKey);
    const list = signaturesIn(sigs, GPG_METADATA_KEY);
    if (!list.length) throw fail(subject, policy, `has no GPG signature (${GPG_METADATA_KEY})`, `Sign it (${what.kind === 'commit' ? 'ostree-ts gpg-sign COMMIT KEY-ID' : 'ostree-ts summary -u --gpg-sign=KEY-ID'}), or set ${gpgKey}=false for ${policy.source} if it is not meant to be signed.`, { check: gpgKey });
    if (!policy.gpgKeys.length) throw fail(subject, policy, `has ${list.length} GPG signature(s) and no trusted key to check them against`, `Import the signer's public key (ostree-ts remote add --gpg-import=FILE, or gpgkeypath=FILE).`, { check: gpgKey });
    const verdict = await verifyGpg(data, list, await loadPublicKeys(policy.gpgKeys), now);
    if (!verdict.good) {
      const why = verdict.refused.length ? ` ${verdict.refused.join(' ')}` : '';
      throw fail(subject, policy, `has ${list.length} GPG signature(s), none valid from a trusted key`, `${why.trim() ? `${why.trim()} ` : ''}Check that it was signed with a key in ${policy.gpgKeys.join(', ')}; a modified ${what.kind} no longer matches its signature.`, { check: gpgKey, refused: verdict.refused });
    }
    result.gpg = verdict.good;
  }
  if (needSign.length) {
    result.checked.push(signKey);
    const list = signaturesIn(sigs, ED25519_METADATA_KEY);
    if (!list.length) throw fail(subject, policy, `has no ed25519 signature (${ED25519_METADATA_KEY})`, `Sign it (${what.kind === 'commit' ? 'ostree-ts sign COMMIT --keys-file=SECRET' : 'ostree-ts summary -u --keys-file=SECRET'}), or drop ${signKey} for ${policy.source}.`, { check: signKey });
    const bad = list.find((s) => s.length !== 64);
    if (bad) throw fail(subject, policy, `has an ed25519 signature of ${bad.length} bytes (64 expected): it is truncated or corrupt`, 'Sign it again.', { check: signKey });
    if (!policy.ed25519Keys.length) throw fail(subject, policy, 'has ed25519 signatures and no trusted key to check them against', 'Set verification-ed25519-key or verification-ed25519-file.', { check: signKey });
    const pub = verifyEd25519(data, list, policy.ed25519Keys);
    if (!pub) throw fail(subject, policy, `has ${list.length} ed25519 signature(s), none valid from the ${policy.ed25519Keys.length} trusted key(s)`, `It was signed by another key, or its bytes changed after signing.`, { check: signKey });
    result.ed25519 = encodePublicKey(pub);
  }
  return result;
}

/** Verify a commit of `repo` against `policy`. */
export async function verifyCommit(repo: Repo, checksum: string, policy: VerifyPolicy): Promise<VerifyResult> {
  const data = await repo.readMetadataBytes('commit', checksum);
  return verifySignatures(data, await repo.loadCommitMeta(checksum), policy, { kind: 'commit', checksum });
}

/**
 * Remotes in a repository's `config`, written as ostree writes them:
 * `[remote "NAME"]` with `url`, `branches`, `gpg-verify` and any other
 * setting, and trusted OpenPGP keys in `NAME.trustedkeys.gpg` (a binary
 * keyring, the form libostree reads).
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { isValidRemoteName } from '../format/refs.js';
import { atomicWriteFile, fsp, path } from '../io/fs.js';
import type { Repo } from '../repo/repo.js';
import { loadPublicKeys, binaryKeyring, keyMatches, parsePublicKeys, type OpenPgpKey } from '../sign/gpg.js';
import { cookieHeader, cookieLine, parseCookieJar, parseCookieLine, type Cookie } from '../format/cookie-jar.js';

export interface RemoteOptions {
  /** Other settings of the remote (`sign-verify`, `verification-ed25519-key`, `gpg-verify-summary`, ...). */
  settings?: Record<string, string>;
  /** The refs the remote offers, when it publishes no summary. */
  branches?: string[];
  /** Do not require GPG signatures on commits (gpg-verify=false). */
  noGpgVerify?: boolean;
  /** Trust the OpenPGP public keys in this file. */
  gpgImport?: string;
  /** Leave an existing remote of that name as it is, instead of failing. */
  ifNotExists?: boolean;
}

export const remoteSection = (name: string): string => `remote "${name}"`;

/**
 * The URL of remote NAME, checked: `http://HOST/…`, `https://HOST/…`, or
 * `file:///ABSOLUTE/PATH` (no host, or localhost), optionally behind
 * ostree's `mirrorlist=`. Anything else is refused naming the remote.
 */
export function checkRemoteUrl(url: string, remote: string): URL {
  const plain = url.replace(/^mirrorlist=/, '');
  const fix = 'Use http://HOST/PATH, https://HOST/PATH or file:///ABSOLUTE/PATH.';
  let u: URL;
  try {
    u = new URL(plain);
  } catch {
    throw new OstreeTsError(Codes.REPO_CONFIG, `The URL of remote '${remote}', '${url}', is not a URL. ${fix}`, { remote, url });
  }
  if (u.protocol === 'file:') {
    if (u.hostname !== '' && u.hostname !== 'localhost') {
      throw new OstreeTsError(Codes.REPO_CONFIG, `The URL of remote '${remote}', '${url}', names the host '${u.hostname}'; a file URL names a path on this machine: file:///ABSOLUTE/PATH (three slashes).`, { remote, url });
    }
  } else if (u.protocol === 'http:' || u.protocol === 'https:') {
    if (!u.hostname) throw new OstreeTsError(Codes.REPO_CONFIG, `The URL of remote '${remote}', '${url}', names no host. ${fix}`, { remote, url });
  } else {
    throw new OstreeTsError(Codes.REPO_CONFIG, `The URL of remote '${remote}', '${url}', uses the scheme '${u.protocol.replace(/:$/, '')}', which is not supported. ${fix}`, { remote, url });
  }
  return u;
}

/** Add remote NAME at URL to `repo`'s configuration. */
export async function addRemote(repo: Repo, name: string, url: string, o: RemoteOptions = {}): Promise<void> {
  if (!isValidRemoteName(name)) throw new OstreeTsError(Codes.USAGE, `'${name}' is not a valid remote name: use letters, digits, '-', '_' and '.'.`, { remote: name });
  const section = remoteSection(name);
  if (repo.config.group(section)) {
    if (o.ifNotExists) return;
    throw new OstreeTsError(Codes.EXISTS, `Remote '${name}' already exists. Delete it first, or add it only if it does not exist.`, { remote: name });
  }
  checkRemoteUrl(url, name);
  repo.config.set(section, 'url', url);
  if (o.branches?.length) repo.config.set(section, 'branches', `${o.branches.join(';')};`);
  if (o.noGpgVerify) repo.config.set(section, 'gpg-verify', 'false');
  for (const [k, v] of Object.entries(o.settings ?? {})) repo.config.set(section, k, v);
  if (o.gpgImport) {
    await atomicWriteFile(keyringPath(repo, name), binaryKeyring(await loadPublicKeys([o.gpgImport])));
  }
  await repo.saveConfig();
}

/** Remove remote NAME and its trusted keys; false when there was none. */
export async function deleteRemote(repo: Repo, name: string): Promise<boolean> {
  if (!repo.config.group(remoteSection(name))) return false;
  repo.config.remove(remoteSection(name));
  await repo.saveConfig();
  await fsp.rm(keyringPath(repo, name), { force: true });
  return true;
}

const keyringPath = (repo: Repo, name: string): string => path.join(repo.path, `${name}.trustedkeys.gpg`);
const jarPath = (repo: Repo, name: string): string => path.join(repo.path, `${name}.cookies.txt`);

function requireRemote(repo: Repo, name: string): void {
  if (!repo.config.group(remoteSection(name))) {
    throw new OstreeTsError(Codes.NOT_FOUND, `Remote "${name}" not found in ${repo.path}/config. Add it first (remote add ${name} URL).`, { remote: name });
  }
}

export interface KeyImport {
  /** Key files (armored or binary), as `-k/--keyring`. */
  files: string[];
  /** Keys read from standard input, as `--stdin`. */
  stdin?: Buffer;
  /** Import only these keys (fingerprints, key IDs); all when empty. */
  keyIds?: string[];
}

/**
 * Trust more OpenPGP keys for remote NAME: they join NAME.trustedkeys.gpg
 * (written anew, atomically). Returns how many keys were not there before.
 */
export async function importRemoteKeys(repo: Repo, name: string, from: KeyImport): Promise<number> {
  requireRemote(repo, name);
  if (!from.files.length && !from.stdin) {
    throw new OstreeTsError(Codes.USAGE, `No keys to import for remote "${name}": give a key file (-k FILE, repeatable) or --stdin.`, { remote: name });
  }
  const incoming = [...(from.files.length ? await loadPublicKeys(from.files) : []), ...(from.stdin ? await parsePublicKeys(from.stdin, 'standard input') : [])];
  const wanted = from.keyIds?.length ? incoming.filter((k) => from.keyIds?.some((id) => keyMatches(k, id))) : incoming;
  if (from.keyIds?.length) {
    for (const id of from.keyIds) {
      if (!incoming.some((k) => keyMatches(k, id))) throw new OstreeTsError(Codes.NOT_FOUND, `No key ${id} in the keys given; nothing was imported for remote "${name}".`, { remote: name, keyId: id });
    }
  }
  const existing = await remoteKeyring(repo, name);
  const byFingerprint = new Map(existing.map((k) => [k.getFingerprint(), k]));
  let added = 0;
  for (const k of wanted) {
    const had = byFingerprint.get(k.getFingerprint());
    if (!had) added++;
    // A key already trusted takes the new user IDs, subkeys and signatures (as gpg --import merges).
    byFingerprint.set(k.getFingerprint(), had ? await had.update(k).catch(() => had) : k);
  }
  await atomicWriteFile(keyringPath(repo, name), binaryKeyring([...byFingerprint.values()]));
  return added;
}

/** The keys NAME.trustedkeys.gpg holds (none when it does not exist). */
export async function remoteKeyring(repo: Repo, name: string): Promise<OpenPgpKey[]> {
  requireRemote(repo, name);
  const data = await fsp.readFile(keyringPath(repo, name)).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  return data?.length ? parsePublicKeys(data, keyringPath(repo, name)) : [];
}

async function readJar(repo: Repo, name: string): Promise<string> {
  return fsp.readFile(jarPath(repo, name), 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '';
    throw e;
  });
}

/** The cookies of remote NAME's jar, sent with each of its requests. */
export async function remoteCookies(repo: Repo, name: string): Promise<Cookie[]> {
  return parseCookieJar(await readJar(repo, name));
}

/** Cookies need no remote of that name (the jar is a file of its own, as libostree keeps it). */
export async function addRemoteCookie(repo: Repo, name: string, c: { domain: string; path: string; name: string; value: string }): Promise<void> {
  for (const [k, v] of Object.entries(c)) {
    if (!v || /[\s]/.test(v)) throw new OstreeTsError(Codes.USAGE, `The cookie's ${k} '${v}' must be one word (no spaces, tabs or newlines).`, { remote: name, field: k });
  }
  const text = await readJar(repo, name);
  await atomicWriteFile(jarPath(repo, name), `${text}${text && !text.endsWith('\n') ? '\n' : ''}${cookieLine(c.domain, c.path, c.name, c.value, Math.floor(repo.host.now() / 1000))}`);
}

/** Remove a cookie (matched by domain, path and name); false when the jar had none such. */
export async function deleteRemoteCookie(repo: Repo, name: string, c: { domain: string; path: string; name: string }): Promise<boolean> {
  const lines = (await readJar(repo, name)).split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const kept = lines.filter((l) => {
    const k = parseCookieLine(l);
    return !(k && k.domain === c.domain && k.path === c.path && k.name === c.name);
  });
  if (kept.length === lines.length) return false;
  await atomicWriteFile(jarPath(repo, name), kept.map((l) => `${l}\n`).join(''));
  return true;
}

/** The headers of each request to remote NAME: the given ones, then its cookies that apply to the URL. */
export async function remoteRequestHeaders(repo: Repo, name: string, given: Array<[string, string]> = []): Promise<(url: URL) => Array<[string, string]>> {
  const jar = await remoteCookies(repo, name);
  return (url) => {
    const cookie = jar.length ? cookieHeader(jar, url, Math.floor(repo.host.now() / 1000)) : null;
    return cookie ? [...given, ['Cookie', cookie]] : given;
  };
}

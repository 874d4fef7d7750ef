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
import { loadPublicKeys } from '../sign/gpg.js';

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
    const keys = await loadPublicKeys([o.gpgImport]);
    const binary = Buffer.concat(keys.map((k) => Buffer.from(k.toPublic().write())));
    await atomicWriteFile(path.join(repo.path, `${name}.trustedkeys.gpg`), binary);
  }
  await repo.saveConfig();
}

/** Remove remote NAME and its trusted keys; false when there was none. */
export async function deleteRemote(repo: Repo, name: string): Promise<boolean> {
  if (!repo.config.group(remoteSection(name))) return false;
  repo.config.remove(remoteSection(name));
  await repo.saveConfig();
  await fsp.rm(path.join(repo.path, `${name}.trustedkeys.gpg`), { force: true });
  return true;
}

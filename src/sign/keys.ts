/**
 * Loading signing keys from files: ed25519 secret keys (base64, one per
 * line) and OpenPGP secret keys from exported key files or directories of
 * them. Files others may read are accepted, with a warning.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { fsp } from '../io/fs.js';
import type { Signer } from './detached.js';
import { parseSecretKey, type Ed25519SecretKey } from './ed25519.js';
import { loadSigningKey } from './gpg.js';

export type KeyWarning = (message: string) => void;

/** Read a secret key file; `onWarning` hears when others may read it. */
export async function readSecretFile(file: string, onWarning: KeyWarning): Promise<string> {
  const st = await fsp.stat(file).catch((e: Error) => {
    throw new OstreeTsError(Codes.KEY, `Cannot read the key file ${file}: ${e.message}.`, { path: file });
  });
  if ((st.mode & 0o077) !== 0) {
    onWarning(`the secret key file ${file} can be read by others (mode 0${(st.mode & 0o777).toString(8)}); run chmod 600 ${file}`);
  }
  return fsp.readFile(file, 'utf8');
}

/** Every ed25519 secret key in a file (one per line, base64). */
export async function loadEd25519KeyFile(file: string, onWarning: KeyWarning): Promise<Ed25519SecretKey[]> {
  const lines = (await readSecretFile(file, onWarning)).split('\n').map((l) => l.trim()).filter(Boolean);
  if (!lines.length) throw new OstreeTsError(Codes.KEY, `The key file ${file} holds no key.`, { path: file });
  return lines.map((l, i) => parseSecretKey(l, `line ${i + 1} of ${file}`));
}

export interface GpgKeySources {
  /** Exported secret key files (armored or binary). */
  keyFiles: string[];
  /** Directories of exported key files (*.asc, *.gpg, *.key). */
  homedirs: string[];
}

/** One OpenPGP signer per key id, each found in the files or directories given. */
export async function loadGpgSigners(keyIds: string[], sources: GpgKeySources, onWarning: KeyWarning): Promise<Signer[]> {
  const out: Signer[] = [];
  const locations = [...sources.keyFiles, ...sources.homedirs];
  for (const id of keyIds) {
    for (const f of sources.keyFiles) await readSecretFile(f, onWarning);
    out.push({ type: 'gpg', key: await loadSigningKey(id, locations) });
  }
  return out;
}

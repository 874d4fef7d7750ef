/** Signing options shared by commit, sign, gpg-sign and summary: keys from the command line or files. */
import { Codes, OstreeTsError } from '../errors/index.js';
import { fsp } from '../io/index.js';
import { loadSigningKey, parseSecretKey, type Ed25519SecretKey, type Signer } from '../sign/index.js';
import { asList } from './common.js';

export interface SigningArgs {
  sign?: string | string[];
  signType?: string | string[];
  keysFile?: string | string[];
  gpgSign?: string | string[];
  gpgHomedir?: string | string[];
  gpgKeyFile?: string | string[];
}

export const SIGNING_OPTIONS = {
  sign: { type: 'string', describe: 'Sign with this ed25519 secret key (base64, 64 bytes)' },
  'sign-type': { type: 'string', describe: 'Signature type for --sign and --keys-file (only ed25519)' },
  'keys-file': { type: 'string', describe: 'File of ed25519 secret keys (base64, one per line) to sign with' },
  'gpg-sign': { type: 'string', describe: 'Sign with this OpenPGP key (fingerprint, key ID or user ID)' },
  'gpg-homedir': { type: 'string', describe: 'Directory of exported OpenPGP key files (*.asc, *.gpg, *.key) to find --gpg-sign keys in' },
  'gpg-key-file': { type: 'string', describe: 'Exported OpenPGP secret key file (armored or binary) holding --gpg-sign keys' },
} as const;

/** Read a secret key file, warning when others may read it. */
export async function readSecretFile(file: string): Promise<string> {
  const st = await fsp.stat(file).catch((e: Error) => {
    throw new OstreeTsError(Codes.KEY, `Cannot read the key file ${file}: ${e.message}.`, { path: file });
  });
  if ((st.mode & 0o077) !== 0) {
    process.stderr.write(`warning: the secret key file ${file} can be read by others (mode 0${(st.mode & 0o777).toString(8)}); run chmod 600 ${file}\n`);
  }
  return fsp.readFile(file, 'utf8');
}

export function checkSignType(args: SigningArgs): void {
  const t = asList(args.signType).pop() ?? 'ed25519';
  if (t !== 'ed25519') {
    throw new OstreeTsError(Codes.USAGE, `Unknown --sign-type=${t}: only ed25519 is supported (use --gpg-sign for OpenPGP).`, { signType: t });
  }
}

export async function ed25519Keys(args: SigningArgs): Promise<Ed25519SecretKey[]> {
  checkSignType(args);
  const keys = asList(args.sign).map((k, i) => parseSecretKey(k, `--sign key ${i + 1}`));
  for (const f of asList(args.keysFile)) {
    const lines = (await readSecretFile(f)).split('\n').map((l) => l.trim()).filter(Boolean);
    if (!lines.length) throw new OstreeTsError(Codes.KEY, `The key file ${f} holds no key.`, { path: f });
    lines.forEach((l, i) => keys.push(parseSecretKey(l, `line ${i + 1} of ${f}`)));
  }
  return keys;
}

export function gpgLocations(args: SigningArgs): string[] {
  return [...asList(args.gpgKeyFile), ...asList(args.gpgHomedir)];
}

export async function gpgSigners(args: SigningArgs, keyIds = asList(args.gpgSign)): Promise<Signer[]> {
  const out: Signer[] = [];
  for (const id of keyIds) {
    const locations = gpgLocations(args);
    for (const f of asList(args.gpgKeyFile)) await readSecretFile(f);
    out.push({ type: 'gpg', key: await loadSigningKey(id, locations) });
  }
  return out;
}

/** Every signer the options ask for (ed25519 first, then OpenPGP). */
export async function signersFrom(args: SigningArgs): Promise<Signer[]> {
  const out: Signer[] = [];
  const ed = await ed25519Keys(args);
  if (ed.length) out.push({ type: 'ed25519', keys: ed });
  out.push(...(await gpgSigners(args)));
  return out;
}

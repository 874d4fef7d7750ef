/** Signing options shared by commit, sign, gpg-sign and summary: keys from the command line or files. */
import { Codes, OstreeTsError } from '../errors/index.js';
import { fsp } from '../io/index.js';
import { loadSigningKey, parseSecretKey, type Ed25519SecretKey, type Signer } from '../sign/index.js';
import { list, str, type Parsed } from './options.js';
import { warn } from './report.js';

const GROUP = 'Signing:';

export const SIGNING_OPTIONS = {
  sign: list('Sign with this ed25519 secret key (base64, 64 bytes)', { group: GROUP }),
  'sign-type': str('Signature type for --sign and --keys-file (only ed25519)', { group: GROUP }),
  'keys-file': list('File of ed25519 secret keys (base64, one per line) to sign with', { group: GROUP }),
  'gpg-sign': list('Sign with this OpenPGP key (fingerprint, key ID or user ID)', { group: GROUP }),
  'gpg-homedir': list('Directory of exported OpenPGP key files (*.asc, *.gpg, *.key) to find --gpg-sign keys in', { group: GROUP }),
  'gpg-key-file': list('Exported OpenPGP secret key file (armored or binary) holding --gpg-sign keys', { group: GROUP }),
};

export type SigningArgs = Parsed<typeof SIGNING_OPTIONS>;

/** Read a secret key file; `onWarning` hears when others may read it. */
export async function readSecretFile(file: string, onWarning: (message: string) => void = warn): Promise<string> {
  const st = await fsp.stat(file).catch((e: Error) => {
    throw new OstreeTsError(Codes.KEY, `Cannot read the key file ${file}: ${e.message}.`, { path: file });
  });
  if ((st.mode & 0o077) !== 0) {
    onWarning(`the secret key file ${file} can be read by others (mode 0${(st.mode & 0o777).toString(8)}); run chmod 600 ${file}`);
  }
  return fsp.readFile(file, 'utf8');
}

export function checkSignType(args: { signType?: string }): void {
  const t = args.signType ?? 'ed25519';
  if (t !== 'ed25519') {
    throw new OstreeTsError(Codes.USAGE, `Unknown --sign-type=${t}: only ed25519 is supported (use --gpg-sign for OpenPGP).`, { signType: t });
  }
}

export async function ed25519Keys(args: Pick<SigningArgs, 'sign' | 'signType' | 'keysFile'>): Promise<Ed25519SecretKey[]> {
  checkSignType(args);
  const keys = args.sign.map((k, i) => parseSecretKey(k, `--sign key ${i + 1}`));
  for (const f of args.keysFile) {
    const lines = (await readSecretFile(f)).split('\n').map((l) => l.trim()).filter(Boolean);
    if (!lines.length) throw new OstreeTsError(Codes.KEY, `The key file ${f} holds no key.`, { path: f });
    lines.forEach((l, i) => keys.push(parseSecretKey(l, `line ${i + 1} of ${f}`)));
  }
  return keys;
}

export async function gpgSigners(args: Pick<SigningArgs, 'gpgHomedir' | 'gpgKeyFile'>, keyIds: string[]): Promise<Signer[]> {
  const out: Signer[] = [];
  const locations = [...args.gpgKeyFile, ...args.gpgHomedir];
  for (const id of keyIds) {
    for (const f of args.gpgKeyFile) await readSecretFile(f);
    out.push({ type: 'gpg', key: await loadSigningKey(id, locations) });
  }
  return out;
}

/** Every signer the options ask for (ed25519 first, then OpenPGP). */
export async function signersFrom(args: SigningArgs): Promise<Signer[]> {
  const out: Signer[] = [];
  const ed = await ed25519Keys(args);
  if (ed.length) out.push({ type: 'ed25519', keys: ed });
  out.push(...(await gpgSigners(args, args.gpgSign)));
  return out;
}

/** Signing options shared by commit, sign, gpg-sign and summary: keys from the command line or files. */
import { Codes, OstreeTsError } from '../errors/index.js';
import type { Signer } from '../sign/detached.js';
import { parseSecretKey, type Ed25519SecretKey } from '../sign/ed25519.js';
import { loadEd25519KeyFile, loadGpgSigners } from '../sign/keys.js';
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

export function checkSignType(args: { signType?: string }): void {
  const t = args.signType ?? 'ed25519';
  if (t !== 'ed25519') {
    throw new OstreeTsError(Codes.USAGE, `Unknown --sign-type=${t}: only ed25519 is supported (use --gpg-sign for OpenPGP).`, { signType: t });
  }
}

export async function ed25519Keys(args: Pick<SigningArgs, 'sign' | 'signType' | 'keysFile'>): Promise<Ed25519SecretKey[]> {
  checkSignType(args);
  const keys = args.sign.map((k, i) => parseSecretKey(k, `--sign key ${i + 1}`));
  for (const f of args.keysFile) keys.push(...(await loadEd25519KeyFile(f, warn)));
  return keys;
}

export function gpgSigners(args: Pick<SigningArgs, 'gpgHomedir' | 'gpgKeyFile'>, keyIds: string[]): Promise<Signer[]> {
  return loadGpgSigners(keyIds, { keyFiles: args.gpgKeyFile, homedirs: args.gpgHomedir }, warn);
}

/** Every signer the options ask for (ed25519 first, then OpenPGP). */
export async function signersFrom(args: SigningArgs): Promise<Signer[]> {
  const out: Signer[] = [];
  const ed = await ed25519Keys(args);
  if (ed.length) out.push({ type: 'ed25519', keys: ed });
  out.push(...(await gpgSigners(args, args.gpgSign)));
  return out;
}

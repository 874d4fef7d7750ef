import { Codes, OstreeTsError } from '../../errors/index.js';
import { fsp, path, writeNewFile } from '../../io/fs.js';
import { resolveRev } from '../../repo/refs.js';
import { deleteCommitSignatures, signCommit } from '../../sign/commit.js';
import { ED25519_METADATA_KEY, encodePublicKey, encodeSecretKey, generateSecretKey, parsePublicKey, parsePublicKeyList, verifyEd25519 } from '../../sign/ed25519.js';
import { ed25519KeysFrom, verifyCommit } from '../../sign/policy.js';
import { openRepo, verb, write, type GlobalArgs } from '../common.js';
import { arg, args, flag, list, str, type Parsed } from '../options.js';
import { checkSignType, ed25519Keys } from '../signing.js';

const OPTIONS = {
  'sign-type': str('Signature type (only ed25519)', { alias: 's' }),
  'keys-file': list('File of keys, base64, one per line (secret to sign, public to verify)'),
  'keys-dir': str('With --verify: directory holding trusted.ed25519 and trusted.ed25519.d/'),
  verify: flag('Verify the commit\'s signatures instead of signing'),
  delete: flag('Remove the signatures the given public keys verify', { alias: 'd' }),
  out: str("With 'generate': directory for secret.ed25519 (mode 0600) and public.ed25519"),
};

type SignArgs = GlobalArgs & Parsed<typeof OPTIONS> & { commit: string; keys: string[] };

async function generate(argv: SignArgs): Promise<void> {
  checkSignType(argv);
  const out = argv.out;
  if (!out) throw new OstreeTsError(Codes.USAGE, "sign generate needs --out=DIR (where secret.ed25519 and public.ed25519 go).");
  await fsp.mkdir(out, { recursive: true, mode: 0o700 });
  const key = generateSecretKey();
  const secretPath = path.join(out, 'secret.ed25519');
  const publicPath = path.join(out, 'public.ed25519');
  try {
    await writeNewFile(secretPath, Buffer.from(`${encodeSecretKey(key)}\n`), 0o600);
  } catch (e) {
    throw new OstreeTsError(Codes.EXISTS, `${secretPath} already exists; it was left alone. Choose another --out directory.`, { path: secretPath }, { cause: e });
  }
  await fsp.chmod(secretPath, 0o600);
  await fsp.writeFile(publicPath, `${encodePublicKey(key.publicKey)}\n`, { mode: 0o644 });
  write(`${encodePublicKey(key.publicKey)}\n`);
  process.stderr.write(`Wrote ${secretPath} (mode 0600: keep it secret) and ${publicPath}\n`);
}

async function publicKeys(argv: SignArgs): Promise<Buffer[]> {
  const keys: Buffer[] = [];
  for (const k of argv.keys) {
    const pub = parsePublicKey(k);
    if (!pub) throw new OstreeTsError(Codes.KEY, `'${k}' is not a base64 ed25519 public key (32 bytes).`, { key: k });
    keys.push(pub);
  }
  for (const file of argv.keysFile) keys.push(...parsePublicKeyList(await fsp.readFile(file, 'utf8')));
  const dir = argv.keysDir;
  if (dir) {
    keys.push(...(await ed25519KeysFrom(path.join(dir, 'trusted.ed25519'))));
    const revoked = new Set((await ed25519KeysFrom(path.join(dir, 'revoked.ed25519'))).map((k) => k.toString('hex')));
    return keys.filter((k) => !revoked.has(k.toString('hex')));
  }
  return keys;
}

async function handler(argv: SignArgs): Promise<void> {
  if (argv.commit === 'generate' && !argv.verify && !argv.delete) return generate(argv);
  checkSignType(argv);
  const repo = await openRepo(argv);
  if (argv.verify) {
    const checksum = await resolveRev(repo, argv.commit) as string;
    const keys = await publicKeys(argv);
    if (!keys.length) throw new OstreeTsError(Codes.USAGE, 'No public keys to verify with: give them as arguments, --keys-file or --keys-dir.');
    const r = await verifyCommit(repo, checksum, {
      source: 'sign --verify', gpgVerify: false, gpgVerifySummary: false, gpgKeys: [],
      signVerify: ['ed25519'], signVerifySummary: [], ed25519Keys: keys,
    });
    write(`Signature verified successfully with key '${r.ed25519}'\n`);
    return;
  }
  if (argv.delete) {
    const keys = await publicKeys(argv);
    const repoData = await repo.readMetadataBytes('commit', await resolveRev(repo, argv.commit) as string);
    const n = await deleteCommitSignatures(repo, argv.commit, ED25519_METADATA_KEY, (sig) => verifyEd25519(repoData, [sig], keys) === null);
    write(`Deleted ${n} signature(s)\n`);
    return;
  }
  const keys = await ed25519Keys({ sign: argv.keys, signType: argv.signType, keysFile: argv.keysFile });
  if (!keys.length) throw new OstreeTsError(Codes.USAGE, 'No key to sign with: give a base64 secret key, or --keys-file=FILE.');
  const checksum = await signCommit(repo, argv.commit, [{ type: 'ed25519', keys }]);
  if (argv.verbose) write(`Signed ${checksum}\n`);
}

export default verb({
  positionals: {
    commit: arg("Ref or checksum; or 'generate' to make a key pair"),
    keys: args('Secret keys (base64) to sign with; public keys with --verify'),
  },
  options: OPTIONS,
  examples: [
    ['$0 sign generate --sign-type=ed25519 --out=keys', 'Make a key pair'],
    ['$0 --repo=repo sign os/x86_64 --keys-file=keys/secret.ed25519', 'Sign a commit'],
    ['$0 --repo=repo sign --verify os/x86_64 --keys-file=keys/public.ed25519', 'Check a commit'],
  ],
  run: handler,
});

import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { resolveRev } from '../../repo/index.js';
import { readSummary, remotePolicy, verifyCommit, verifySignatures, type VerifyPolicy } from '../../sign/index.js';
import { asList, last, openRepo, write, type GlobalArgs } from '../common.js';

export const command = 'verify [commit]';
export const describe = "Check a commit's (or the summary's) signatures against a remote's policy or given keys";

export function builder(y: Argv): Argv {
  return y
    .positional('commit', { type: 'string', describe: 'Ref or checksum (omit with --summary)' })
    .option('remote', { type: 'string', describe: "Use this remote's policy: gpg-verify, sign-verify and their keys" })
    .option('summary', { type: 'boolean', describe: 'Verify summary.sig over summary instead of a commit' })
    .option('gpg-key-file', { type: 'string', describe: 'Without --remote: require a GPG signature from a key in this file' })
    .option('ed25519-key', { type: 'string', describe: 'Without --remote: require an ed25519 signature from this base64 public key' })
    .option('json', { type: 'boolean', describe: 'Print the result as JSON' })
    .example('$0 --repo=repo verify --remote=origin os/x86_64', 'Does the commit pass the remote\'s signature policy?');
}

export async function handler(argv: GlobalArgs & {
  commit?: string; remote?: string | string[]; summary?: boolean; gpgKeyFile?: string[]; ed25519Key?: string[]; json?: boolean;
}): Promise<void> {
  const repo = await openRepo(argv);
  const remote = last(argv.remote);
  let policy: VerifyPolicy;
  if (remote && (asList(argv.gpgKeyFile).length || asList(argv.ed25519Key).length)) {
    throw new OstreeTsError(Codes.USAGE, "--remote uses the remote's own keys; leave out --gpg-key-file and --ed25519-key, or leave out --remote.");
  }
  if (remote) policy = await remotePolicy(repo, remote);
  else {
    const { parsePublicKey } = await import('../../sign/index.js');
    const ed = asList(argv.ed25519Key).map((k) => {
      const p = parsePublicKey(k);
      if (!p) throw new OstreeTsError(Codes.KEY, `'${k}' is not a base64 ed25519 public key.`, { key: k });
      return p;
    });
    const gpg = asList(argv.gpgKeyFile);
    if (!ed.length && !gpg.length) throw new OstreeTsError(Codes.USAGE, 'Nothing to verify against: pass --remote=NAME, --gpg-key-file=FILE or --ed25519-key=KEY.');
    policy = {
      source: 'the command line', gpgVerify: gpg.length > 0, gpgVerifySummary: gpg.length > 0, gpgKeys: gpg,
      signVerify: ed.length ? ['ed25519'] : [], signVerifySummary: ed.length ? ['ed25519'] : [], ed25519Keys: ed,
    };
  }
  let result;
  if (argv.summary) {
    const { data, sig } = await readSummary(repo);
    result = await verifySignatures(data, sig, policy, { kind: 'summary' });
  } else {
    if (!argv.commit) throw new OstreeTsError(Codes.USAGE, 'Give a commit to verify, or --summary.');
    result = await verifyCommit(repo, await resolveRev(repo, argv.commit) as string, policy);
  }
  if (argv.json) {
    write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  if (!result.checked.length) {
    // Nothing was checked: say so, and do not let `verify && deploy` go ahead on it.
    throw new OstreeTsError(Codes.SIGNATURE, `${result.subject}: nothing was verified: ${policy.source} requires no signature (gpg-verify, sign-verify and their summary forms are off).`, { subject: result.subject, policy: policy.source });
  }
  if (result.gpg) write(`${result.subject}: good GPG signature from ${result.gpg.userIds[0] ?? '(no user ID)'} (key ${result.gpg.keyId}, fingerprint ${result.gpg.fingerprint})\n`);
  if (result.ed25519) write(`${result.subject}: good ed25519 signature from key ${result.ed25519}\n`);
}

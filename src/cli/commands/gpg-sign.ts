import type { Argv } from 'yargs';
import { signCommit } from '../../sign/index.js';
import { openRepo, write, type GlobalArgs } from '../common.js';
import { gpgSigners, type SigningArgs } from '../signing.js';

export const command = 'gpg-sign <commit> <key-ids..>';
export const describe = 'Sign a commit with OpenPGP keys (verifiable by ostree with gpgme)';

export function builder(y: Argv): Argv {
  return y
    .positional('commit', { type: 'string', describe: 'Ref or checksum' })
    .positional('key-ids', { type: 'string', describe: 'Key fingerprint, key ID or user ID' })
    .option('gpg-homedir', { type: 'string', describe: 'Directory of exported key files (*.asc, *.gpg, *.key); a GnuPG keybox is not read' })
    .option('gpg-key-file', { type: 'string', describe: 'Exported secret key file (gpg --export-secret-keys --armor KEY-ID)' })
    .example('$0 --repo=repo gpg-sign os/x86_64 0x3F2A... --gpg-key-file=release.sec.asc', 'Append a detached OpenPGP signature');
}

export async function handler(argv: GlobalArgs & SigningArgs & { commit: string; keyIds: string[] }): Promise<void> {
  const repo = await openRepo(argv);
  const signers = await gpgSigners(argv, argv.keyIds);
  const checksum = await signCommit(repo, argv.commit, signers);
  if (argv.verbose) write(`Signed ${checksum}\n`);
}

import { signCommit, deleteGpgSignatures } from '../../sign/commit.js';
import { openRepo, verb, write } from '../common.js';
import { arg, args, flag, list } from '../options.js';
import { gpgSigners } from '../signing.js';

export default verb({
  positionals: {
    commit: arg('Ref or checksum'),
    'key-ids': args('Key fingerprint, key ID or user ID', { required: true }),
  },
  options: {
    delete: flag('Delete the signatures made by any of the KEY-IDs (fingerprints or key IDs) instead of signing', { alias: 'd' }),
    'gpg-homedir': list('Directory of exported key files (*.asc, *.gpg, *.key); a GnuPG keybox is not read'),
    'gpg-key-file': list('Exported secret key file (gpg --export-secret-keys --armor KEY-ID)'),
  },
  examples: [
    ['$0 --repo=repo gpg-sign os/x86_64 0x3F2A... --gpg-key-file=release.sec.asc', 'Append a detached OpenPGP signature'],
    ['$0 --repo=repo gpg-sign --delete os/x86_64 0x3F2A...', 'Remove the signatures that key made'],
  ],
  async run(o) {
    const repo = await openRepo(o);
    if (o.delete) {
      write(`Signatures deleted: ${await deleteGpgSignatures(repo, o.commit, o.keyIds)}\n`);
      return;
    }
    const signers = await gpgSigners(o, o.keyIds);
    const checksum = await signCommit(repo, o.commit, signers);
    if (o.verbose) write(`Signed ${checksum}\n`);
  },
});

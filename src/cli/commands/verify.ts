import { Codes, OstreeTsError } from '../../errors/index.js';
import { resolveRev } from '../../repo/refs.js';
import { remotePolicy, verifyCommit, verifySignatures, type VerifyPolicy } from '../../sign/policy.js';
import { readSummary } from '../../sign/summary.js';
import { openRepo, verb, write } from '../common.js';
import { printDocument } from '../output.js';
import { flag, JSON_OPTION, list, optionalArg, str } from '../options.js';

export default verb({
  positionals: { commit: optionalArg('Ref or checksum (omit with --summary)') },
  options: {
    remote: str("Use this remote's policy: gpg-verify, sign-verify and their keys"),
    summary: flag('Verify summary.sig over summary instead of a commit'),
    'gpg-key-file': list('Without --remote: require a GPG signature from a key in this file'),
    'ed25519-key': list('Without --remote: require an ed25519 signature from this base64 public key'),
    json: JSON_OPTION,
  },
  examples: [['$0 --repo=repo verify --remote=origin os/x86_64', 'Does the commit pass the remote\'s signature policy?']],
  async run(o) {
    const repo = await openRepo(o);
    let policy: VerifyPolicy;
    if (o.remote && (o.gpgKeyFile.length || o.ed25519Key.length)) {
      throw new OstreeTsError(Codes.USAGE, "--remote uses the remote's own keys; leave out --gpg-key-file and --ed25519-key, or leave out --remote.");
    }
    if (o.remote) policy = await remotePolicy(repo, o.remote);
    else {
      const { parsePublicKey } = await import('../../sign/index.js');
      const ed = o.ed25519Key.map((k) => {
        const p = parsePublicKey(k);
        if (!p) throw new OstreeTsError(Codes.KEY, `'${k}' is not a base64 ed25519 public key.`, { key: k });
        return p;
      });
      const gpg = o.gpgKeyFile;
      if (!ed.length && !gpg.length) throw new OstreeTsError(Codes.USAGE, 'Nothing to verify against: pass --remote=NAME, --gpg-key-file=FILE or --ed25519-key=KEY.');
      policy = {
        source: 'the command line', gpgVerify: gpg.length > 0, gpgVerifySummary: gpg.length > 0, gpgKeys: gpg,
        signVerify: ed.length ? ['ed25519'] : [], signVerifySummary: ed.length ? ['ed25519'] : [], ed25519Keys: ed,
      };
    }
    let result;
    if (o.summary) {
      const { data, sig } = await readSummary(repo);
      result = await verifySignatures(data, sig, policy, { kind: 'summary' });
    } else {
      if (!o.commit) throw new OstreeTsError(Codes.USAGE, 'Give a commit to verify, or --summary.');
      result = await verifyCommit(repo, await resolveRev(repo, o.commit) as string, policy);
    }
    if (o.json) return printDocument('VerifyResult', result);
    if (!result.checked.length) {
      // Nothing was checked: say so, and do not let `verify && deploy` go ahead on it.
      throw new OstreeTsError(Codes.SIGNATURE, `${result.subject}: nothing was verified: ${policy.source} requires no signature (gpg-verify, sign-verify and their summary forms are off).`, { subject: result.subject, policy: policy.source });
    }
    if (result.gpg) write(`${result.subject}: good GPG signature from ${result.gpg.userIds[0] ?? '(no user ID)'} (key ${result.gpg.keyId}, fingerprint ${result.gpg.fingerprint})\n`);
    if (result.ed25519) write(`${result.subject}: good ed25519 signature from key ${result.ed25519}\n`);
  },
});

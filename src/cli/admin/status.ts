import { Codes, OstreeTsError } from '../../errors/index.js';
import { printDocument } from '../output.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { write } from '../common.js';
import { flag, JSON_OPTION } from '../options.js';
import { adminVerb, sysrootOf } from './common.js';

export default adminVerb({
  options: {
    json: JSON_OPTION,
    verify: flag("Print each deployment's commit verification against its origin's remote (a deployment with a local origin cannot be verified)", { alias: 'V' }),
  },
  async run(o) {
    const { hostStatus, renderAdminStatus } = await import('../../host/status.js');
    const s = await hostStatus({ sysroot: sysrootOf(o), env: nodeHostEnv(), signatures: o.json || o.verify });
    if (o.json) {
      printDocument('HostStatus', s);
      return;
    }
    if (!o.verify || !s.deployments.length) {
      write(renderAdminStatus(s));
      return;
    }
    // As ostree: each deployment, then the GPG verification of its commit against its origin's remote (whatever the
    // remote's gpg-verify says); one with no remote, or whose commit carries no signatures, stops the listing.
    const { openSysrootRepo } = await import('../../sysroot/index.js');
    const { remotePolicy, verifyCommit } = await import('../../sign/policy.js');
    const repo = await openSysrootRepo(s.sysroot);
    for (const d of s.deployments) {
      write(renderAdminStatus({ ...s, deployments: [d] }));
      const refspec = d.origin?.refspec;
      if (!refspec) continue;
      const remote = refspec.includes(':') ? refspec.slice(0, refspec.indexOf(':')) : null;
      if (!remote) throw new OstreeTsError(Codes.USAGE, 'Cannot verify deployment without remote', { deployment: d.id });
      if (!(await repo.loadCommitMeta(d.checksum))) throw new OstreeTsError(Codes.SIGNATURE, "Can't verify commit without detached metadata", { deployment: d.id });
      const policy = { ...(await remotePolicy(repo, remote)), gpgVerify: true, signVerify: [] };
      const r = await verifyCommit(repo, d.checksum, policy);
      write(`    GPG: Good signature from key ${r.gpg?.keyId.toUpperCase() ?? '(unknown)'}\n`);
    }
  },
});

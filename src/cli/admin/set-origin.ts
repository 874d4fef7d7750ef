import { Codes, OstreeTsError } from '../../errors/index.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { KeyFile } from '../../format/keyfile.js';
import { writeOrigin } from '../../sysroot/deploy.js';
import { withSysrootLock } from '../../sysroot/lock.js';
import { loadSysroot, openSysrootRepo, sameDeployment } from '../../sysroot/state.js';
import { arg, keyValues, list, optionalArg, str } from '../options.js';
import { adminVerb, deploymentIndex, LOCKING, notBooted, sysrootOf } from './common.js';

export default adminVerb({
  positionals: {
    remote: arg('Remote name (added when the repository has none of that name; an existing one is left as it is)'),
    url: arg('Repository URL (for a remote that is added)'),
    branch: optionalArg("Branch to follow (default: the deployment's current one)"),
  },
  options: {
    set: list("KEY=VALUE in the config of a remote that is added (gpg-verify, sign-verify, verification-ed25519-file, ...)", { alias: 's' }),
    index: str('The deployment index, 0 = the first (default: the booted deployment)'),
    ...LOCKING,
  },
  examples: [['$0 admin --sysroot=/mnt/sysroot set-origin --index=0 --set=gpg-verify=false mirror http://127.0.0.1:8080/repo os/stable', 'Make deployment 0 follow os/stable from a new remote']],
  details: "As in ostree, a remote that already exists is not changed (its URL and settings stay); only the deployment's origin refspec is rewritten to REMOTE:BRANCH.",
  async run(o) {
    const root = sysrootOf(o);
    const env = nodeHostEnv();
    const settings = keyValues(o.set);
    await withSysrootLock(root, { wait: o.lockWait, purpose: 'admin set-origin', now: env.now }, async () => {
      const st = await loadSysroot(root, env);
      let d = st.booted ? st.deployments.find((x) => sameDeployment(x, st.booted!)) : undefined;
      if (o.index !== undefined) {
        const i = deploymentIndex(o.index, 'admin set-origin --index');
        d = st.deployments[i];
        if (!d) throw new OstreeTsError(Codes.NOT_FOUND, `Out of range deployment index ${i}, expected < ${st.deployments.length}`, { index: i });
      }
      if (!d) throw notBooted();
      const origin = KeyFile.parse(d.origin?.render() ?? '', 'origin');
      let branch = o.branch;
      if (!branch) {
        const refspec = origin.get('origin', 'refspec');
        if (!refspec) throw new OstreeTsError(Codes.USAGE, `Deployment ${d.csum}.${d.deployserial} has no origin refspec to take the branch from: give BRANCH.`, { deployment: `${d.csum}.${d.deployserial}` });
        branch = refspec.includes(':') ? refspec.slice(refspec.indexOf(':') + 1) : refspec;
      }
      const repo = await openSysrootRepo(root);
      const { addRemote } = await import('../../transport/remotes.js');
      await addRemote(repo, o.remote, o.url, { settings, ifNotExists: true });
      origin.set('origin', 'refspec', `${o.remote}:${branch}`);
      await writeOrigin(root, d, origin);
    });
  },
});

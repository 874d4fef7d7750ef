import { Codes, OstreeTsError } from '../../errors/index.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { path } from '../../io/fs.js';
import { diffEtc, expandPaths } from '../../sysroot/etc-merge.js';
import { deploymentPath, loadSysroot, mergeDeployment, sameDeployment } from '../../sysroot/state.js';
import { write } from '../common.js';
import { OS_OPTION } from '../options.js';
import { adminVerb, sysrootOf } from './common.js';

export default adminVerb({
  options: { os: OS_OPTION },
  examples: [['$0 admin config-diff', "The booted deployment's /etc changes against its defaults (usr/etc): M modified, D removed, A added"]],
  details: "Compares the deployment's /etc with the defaults it was deployed with (usr/etc), ignoring extended attributes, and prints one line per path: "
    + "M (modified), D (removed) or A (added; an added directory's content is listed too). The booted deployment, or with --os the stateroot's merge deployment.",
  async run(o) {
    const root = sysrootOf(o);
    const st = await loadSysroot(root, nodeHostEnv());
    let d = st.booted ? st.deployments.find((x) => sameDeployment(x, st.booted!)) ?? st.booted : null;
    if (o.os) {
      d = mergeDeployment(st, o.os);
      if (!d) throw new OstreeTsError(Codes.NOT_FOUND, `No deployment for OS '${o.os}'`, { osname: o.os });
    }
    if (!d) throw new OstreeTsError(Codes.NOT_FOUND, 'Not currently booted into an OSTree system and no --os= argument given', { booted: false });
    const dir = deploymentPath(root, d);
    const etc = path.join(dir, 'etc');
    const plan = await diffEtc(path.join(dir, 'usr', 'etc'), etc);
    const added = await expandPaths(etc, plan.added);
    write([...plan.modified.map((p) => `M    ${p}\n`), ...plan.removed.map((p) => `D    ${p}\n`), ...added.map((p) => `A    ${p}\n`)].join(''));
  },
});

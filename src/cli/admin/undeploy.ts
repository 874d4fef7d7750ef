import { Codes, OstreeTsError } from '../../errors/index.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { writeList } from '../../sysroot/deploy.js';
import { withSysrootLock } from '../../sysroot/lock.js';
import { write } from '../common.js';
import { arg } from '../options.js';
import { adminVerb, deploymentIndex, deployProgressOnStderr, LOCKING, sysrootOf } from './common.js';

export default adminVerb({
  positionals: { index: arg("The deployment's index (0 is the default; see admin status)") },
  options: { ...LOCKING },
  async run(o) {
    const root = sysrootOf(o);
    const i = deploymentIndex(o.index, 'admin undeploy');
    let gone = '';
    const env = nodeHostEnv();
    await withSysrootLock(root, { wait: o.lockWait, purpose: 'admin undeploy', now: env.now }, () => writeList(root, env, (st) => {
      const d = st.deployments[i];
      if (!d) throw new OstreeTsError(Codes.NOT_FOUND, `Out of range deployment index ${i} (there are ${st.deployments.length}).`, { index: i });
      gone = `${d.csum}.${d.deployserial}`;
      return st.deployments.filter((_, j) => j !== i);
    }, { onEvent: deployProgressOnStderr }));
    write(`Deleted deployment ${gone}\n`);
  },
});

import { cleanup } from '../../host/cleanup.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { printDocument, write } from '../output.js';
import { JSON_OPTION, LOCK_WAIT_OPTION } from '../options.js';
import { sysrootOf, verb } from './index.js';

export default verb({
  options: { json: JSON_OPTION, 'lock-wait': LOCK_WAIT_OPTION },
  async run(o) {
    const r = await cleanup({ sysroot: sysrootOf(o), env: nodeHostEnv(), lockWait: o.lockWait });
    if (o.json) printDocument('CleanupResult', r);
    else write(`Removed ${r.deploymentsRemoved.length} deployments, ${r.bootDirsRemoved.length} kernels, ${r.prune?.deleted ?? 0} objects (${r.prune?.bytesFreed ?? 0} bytes)\n`);
  },
});

import { printDocument } from '../output.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { write } from '../common.js';
import { JSON_OPTION } from '../options.js';
import { adminVerb, sysrootOf } from './common.js';

export default adminVerb({
  options: { json: JSON_OPTION },
  async run(o) {
    const { hostStatus, renderAdminStatus } = await import('../../host/status.js');
    const s = await hostStatus({ sysroot: sysrootOf(o), env: nodeHostEnv(), signatures: o.json });
    if (o.json) printDocument('HostStatus', s);
    else write(renderAdminStatus(s));
  },
});

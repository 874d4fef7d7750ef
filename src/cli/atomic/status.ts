import { hostStatus, renderHostStatus } from '../../host/status.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { printDocument, write } from '../output.js';
import { JSON_OPTION } from '../options.js';
import { sysrootOf, verb } from './index.js';

export default verb({
  options: { json: JSON_OPTION },
  examples: [
    ['$0 --sysroot=/mnt/sysroot status', 'What would boot, and what rollback would choose'],
    ['$0 status --json | jq .deployments[0].version', 'The default deployment\'s version'],
  ],
  details: 'The JSON document is of kind HostStatus (see the README); the marks are ● booted, default, pending, rollback, pinned.',
  async run(o) {
    const s = await hostStatus({ sysroot: sysrootOf(o), env: nodeHostEnv() });
    if (o.json) printDocument('HostStatus', s);
    else write(renderHostStatus(s));
  },
});

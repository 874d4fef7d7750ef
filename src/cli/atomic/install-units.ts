import { installUnits } from '../../host/units.js';
import { printDocument, write } from '../output.js';
import { flag, JSON_OPTION, str } from '../options.js';
import { sysrootOf, verb } from './index.js';

export default verb({
  options: {
    dest: str('The directory to write the units to (default: SYSROOT/etc/systemd/system)'),
    exec: str('The atomic command the units run (default /usr/bin/atomic)'),
    'no-enable': flag('Write the unit files only; do not add their enablement links'),
    json: JSON_OPTION,
  },
  examples: [['$0 install-units', 'Install and enable atomic-boot-reconcile.service and atomic-health-check.service']],
  details: 'atomic-boot-reconcile.service runs early at every boot (WantedBy=sysinit.target); atomic-health-check.service is '
    + 'Before= and RequiredBy=boot-complete.target, so systemd-bless-boot.service blesses systemd-boot entries only once it passed.',
  async run(o) {
    const r = await installUnits(sysrootOf(o), { dest: o.dest, exec: o.exec, noEnable: o.noEnable });
    if (o.json) printDocument('InstalledUnits', r);
    else write([...r.units.map((u) => `Wrote ${u}\n`), ...r.links.map((l) => `Enabled ${l}\n`)].join(''));
  },
});

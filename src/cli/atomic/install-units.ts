import { readAtomicConfig } from '../../host/atomic-conf.js';
import { installUnits } from '../../host/units.js';
import { openSysrootRepo } from '../../sysroot/state.js';
import { printDocument, write } from '../output.js';
import { flag, JSON_OPTION, str } from '../options.js';
import { sysrootOf, verb } from './index.js';

export default verb({
  options: {
    dest: str('The directory to write the units to (default: SYSROOT/etc/systemd/system)'),
    exec: str('The atomic command the units run (default /usr/bin/atomic)'),
    'no-enable': flag('Write the unit files only; do not add their enablement links'),
    grub: flag('Also write the GRUB script that counts boots in the grubenv (SYSROOT/etc/grub.d/08_ostree_ts_boot_counting); regenerate grub.cfg afterwards'),
    json: JSON_OPTION,
  },
  examples: [['$0 install-units', 'Install and enable atomic-boot-reconcile.service and atomic-health-check.service']],
  details: 'atomic-boot-reconcile.service runs early at every boot (WantedBy=sysinit.target); atomic-health-check.service is '
    + 'Before= and RequiredBy=boot-complete.target, so systemd-bless-boot.service blesses systemd-boot entries only once it passed.',
  async run(o) {
    const root = sysrootOf(o);
    const grubTries = o.grub ? (await readAtomicConfig(root, (await openSysrootRepo(root)).config)).tries : undefined;
    const r = await installUnits(root, { dest: o.dest, exec: o.exec, noEnable: o.noEnable, grubTries });
    if (o.json) printDocument('InstalledUnits', r);
    else {
      write([...r.units.map((u) => `Wrote ${u}\n`), ...r.links.map((l) => `Enabled ${l}\n`)].join(''));
      if (r.grubScript) write(`Wrote ${r.grubScript}; regenerate grub.cfg (grub-mkconfig -o /boot/grub/grub.cfg, or update-grub) to use it\n`);
    }
  },
});

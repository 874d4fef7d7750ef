/** The boot back end atomic.conf configures, as the sysroot layer takes it. */
import type { BootBackend } from '../sysroot/bootloader/index.js';
import type { SysrootFaults } from '../sysroot/faults.js';
import type { AtomicConfig } from './atomic-conf.js';

export function bootBackend(conf: Pick<AtomicConfig, 'backend' | 'esp'>, faults?: SysrootFaults): BootBackend {
  return { kind: conf.backend, ...(conf.esp ? { esp: conf.esp } : {}), ...(faults ? { faults } : {}) };
}

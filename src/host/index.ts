export * from './status.js';
export type { HostVerbOptions } from './common.js';
export * from './preflight/index.js';
export * from './upgrade.js';
export * from './rollback.js';
export * from './pin.js';
export * from './kargs.js';
export * from './cleanup.js';

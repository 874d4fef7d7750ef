export * from './state.js';
export * from './kernel.js';
export * from './write.js';
export * from './cleanup.js';
export * from './etc-merge.js';
export * from './deploy.js';
export * from './lock.js';

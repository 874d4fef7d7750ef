export * from './status.js';
export * from './update.js';

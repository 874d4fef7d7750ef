export * from './pull.js';
export * from './delta-pull.js';

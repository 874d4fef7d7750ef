export * from './pull.js';
export * from './remote-summary.js';
export * from './delta-pull.js';
export * from './remotes.js';
export * from './resolve-commit.js';
export * from './find-remotes.js';

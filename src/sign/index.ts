export * from './ed25519.js';
export * from './gpg.js';
export * from './commit.js';
export * from './policy.js';

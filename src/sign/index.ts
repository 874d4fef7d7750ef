export * from './ed25519.js';
export * from './gpg.js';
export * from './detached.js';
export * from './commit.js';
export * from './summary.js';
export * from './policy.js';
export { signaturesIn } from './signatures.js';
export * from './keys.js';

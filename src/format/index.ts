export * from './gvariant.js';
export * from './checksum.js';
export * from './objects.js';
export * from './keyfile.js';
export * from './refs.js';
export * from './gvariant-text.js';
export * from './ghash.js';
export * from './delta.js';

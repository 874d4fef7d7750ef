export * from './fs.js';
export * from './xattr.js';
export * from './compress.js';

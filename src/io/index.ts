export * from './fs.js';
export * from './xattr.js';
export * from './compress.js';
export * from './tar.js';
export * from './git.js';
export * from './http-server.js';
export * from './http-client.js';
export * from './xz.js';

/** Extended attributes through a native binding (never following symlinks). */
import { createRequire } from 'node:module';
import { Codes, OstreeTsError } from '../errors/index.js';

type Binding = typeof import('@napi-rs/xattr');

const requireHere = createRequire(import.meta.url);

/** The native binding, loaded on first use: commands that never touch xattrs start faster. */
function binding(): Binding {
  return requireHere('@napi-rs/xattr') as Binding;
}

export interface RawXattr {
  name: string;
  value: Uint8Array;
}

function ioError(op: string, path: string, e: unknown): OstreeTsError {
  const msg = e instanceof Error ? e.message : String(e);
  return new OstreeTsError(Codes.IO, `Cannot ${op} extended attributes of ${path}: ${msg}. Check that the filesystem supports xattrs, or leave extended attributes out.`, { path }, { cause: e });
}

/** All xattrs of `path` (the link itself for symlinks), in the order the kernel lists them. */
export async function readXattrs(path: string): Promise<RawXattr[]> {
  let names: string[];
  try {
    names = await binding().listAttributes(path);
  } catch (e) {
    if (/not supported/i.test(String(e))) return [];
    throw ioError('list', path, e);
  }
  if (names.length === 0) return [];
  const out: RawXattr[] = [];
  for (const name of names) {
    try {
      const value = await binding().getAttribute(path, name);
      if (value !== null) out.push({ name, value });
    } catch (e) {
      throw ioError('read', path, e);
    }
  }
  return out;
}

export async function readXattr(path: string, name: string): Promise<Buffer | null> {
  try {
    return await binding().getAttribute(path, name);
  } catch (e) {
    throw ioError('read', path, e);
  }
}

export async function writeXattr(path: string, name: string, value: Uint8Array): Promise<void> {
  try {
    await binding().setAttribute(path, name, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  } catch (e) {
    throw ioError('write', path, e);
  }
}

export async function writeXattrs(path: string, xattrs: RawXattr[]): Promise<void> {
  for (const x of xattrs) await writeXattr(path, x.name, x.value);
}

export async function removeXattr(path: string, name: string): Promise<void> {
  try {
    await binding().removeAttribute(path, name);
  } catch (e) {
    throw ioError('remove', path, e);
  }
}

/** readXattrs, blocking: for walks over many small files. */
export function readXattrsSync(path: string): RawXattr[] {
  let names: string[];
  try {
    names = binding().listAttributesSync(path);
  } catch (e) {
    if (/not supported/i.test(String(e))) return [];
    throw ioError('list', path, e);
  }
  const out: RawXattr[] = [];
  for (const name of names) {
    try {
      const value = binding().getAttributeSync(path, name);
      if (value !== null) out.push({ name, value });
    } catch (e) {
      throw ioError('read', path, e);
    }
  }
  return out;
}

/** readXattr, blocking. */
export function readXattrSync(path: string, name: string): Buffer | null {
  try {
    return binding().getAttributeSync(path, name);
  } catch (e) {
    throw ioError('read', path, e);
  }
}

/** writeXattrs, blocking. */
export function writeXattrsSync(path: string, xattrs: RawXattr[]): void {
  for (const x of xattrs) {
    try {
      binding().setAttributeSync(path, x.name, x.value);
    } catch (e) {
      throw ioError('write', path, e);
    }
  }
}

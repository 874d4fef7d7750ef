/** Ref names and refspecs, with libostree's rules. */
import { Codes, OstreeTsError } from '../errors/index.js';
import { isChecksum } from './checksum.js';

const COMPONENT = /^[\p{L}\p{N}_][-._\p{L}\p{N}_]*$/u;

export function isValidRefName(name: string): boolean {
  if (name.length === 0 || isChecksum(name)) return false;
  return name.split('/').every((c) => COMPONENT.test(c));
}

export function isValidRemoteName(name: string): boolean {
  return COMPONENT.test(name);
}

/** The longest file name a Linux filesystem stores (NAME_MAX): each part of a ref is one. */
export const MAX_REF_PART_BYTES = 255;

export function validateRefName(name: string): void {
  const long = name.split('/').find((part) => Buffer.byteLength(part) > MAX_REF_PART_BYTES);
  if (long !== undefined) {
    throw new OstreeTsError(Codes.INVALID_REF, `Invalid ref name '${name.length > 80 ? `${name.slice(0, 60)}…` : name}': a part of it is ${Buffer.byteLength(long)} bytes long, over the ${MAX_REF_PART_BYTES} bytes a file name may have. Use a shorter name.`, { ref: name, part: long.length });
  }
  if (!isValidRefName(name)) {
    throw new OstreeTsError(Codes.INVALID_REF, `Invalid ref name '${name}': use /-separated parts of letters, digits, '_', '-' and '.', each not starting with '-' or '.'.`, { ref: name });
  }
}

export interface RefSpec {
  remote: string | null;
  ref: string;
}

export function parseRefSpec(spec: string): RefSpec {
  const i = spec.indexOf(':');
  if (i < 0) return { remote: null, ref: spec };
  const remote = spec.slice(0, i);
  const ref = spec.slice(i + 1);
  if (!isValidRemoteName(remote)) throw new OstreeTsError(Codes.INVALID_REF, `Invalid remote name '${remote}' in '${spec}'.`, { refspec: spec });
  return { remote, ref };
}

/** A ref of a collection: the pair that names it wherever it is stored (heads, mirrors, a remote). */
export interface CollectionRef {
  collection: string;
  ref: string;
}

const COLLECTION_ELEMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A collection ID has the form of a D-Bus interface name: two or more dot-separated elements of letters, digits and '_', none starting with a digit. */
export function isValidCollectionId(id: string): boolean {
  if (id.length === 0 || id.length > 255) return false;
  const parts = id.split('.');
  return parts.length >= 2 && parts.every((p) => COLLECTION_ELEMENT.test(p));
}

export function validateCollectionId(id: string): void {
  if (!isValidCollectionId(id)) {
    throw new OstreeTsError(Codes.INVALID_REF, `Invalid collection ID ${id}: use a reverse domain name such as org.example.Os (two or more dot-separated parts of letters, digits and '_', none starting with a digit).`, { collectionId: id });
  }
}

/** `(COLLECTION, REF)`, as ostree prints a collection–ref. */
export const formatCollectionRef = (c: CollectionRef): string => `(${c.collection}, ${c.ref})`;

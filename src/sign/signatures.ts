/** Signature lists in detached metadata. */
import { Codes, OstreeTsError } from '../errors/index.js';
import type { VarDict } from '../format/gvariant.js';

/** The signatures under `key` (an `aay`), or none. */
export function signaturesIn(dict: VarDict | null, key: string): Uint8Array[] {
  const entry = dict?.find(([k]) => k === key);
  if (!entry) return [];
  const v = entry[1];
  if (v.type !== 'aay' || !Array.isArray(v.value)) {
    throw new OstreeTsError(Codes.SIGNATURE, `Detached metadata ${key} has type ${v.type}, not aay: it is not a signature list.`, { key });
  }
  return v.value as Uint8Array[];
}

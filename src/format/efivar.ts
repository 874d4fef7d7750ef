/**
 * EFI variables as Linux's efivarfs shows them: four bytes of attributes
 * (little-endian), then the value. The Boot Loader Interface's string
 * variables (`LoaderBootCountPath`, `LoaderEntrySelected`, vendor GUID
 * 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f) are UTF-16LE, ending in a NUL.
 */

/** The Boot Loader Interface's vendor GUID, as efivarfs names its variables (`NAME-GUID`). */
export const LOADER_VENDOR_GUID = '4a67b082-0a4c-41cf-b6c7-440b29bb8c4f';

/** The string value of an efivarfs file; null when it is too short or not UTF-16. */
export function parseEfiStringVariable(buf: Uint8Array): string | null {
  if (buf.length < 4 || (buf.length - 4) % 2 !== 0) return null;
  let s = Buffer.from(buf.buffer, buf.byteOffset + 4, buf.length - 4).toString('utf16le');
  const nul = s.indexOf('\u0000');
  if (nul >= 0) s = s.slice(0, nul);
  return s;
}

/** An efivarfs file holding `value` (attributes: non-volatile, boot-service and runtime access), for tests and emulation. */
export function encodeEfiStringVariable(value: string, attributes = 0x7): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(attributes >>> 0, 0);
  return Buffer.concat([head, Buffer.from(`${value}\u0000`, 'utf16le')]);
}

/** The entry file name in a loader path such as `\loader\entries\ostree-2-os+2-1.conf`; null when it is none. */
export function loaderEntryFileName(loaderPath: string): string | null {
  const m = /^\\loader\\entries\\([^\\/]+\.conf)$/i.exec(loaderPath.trim());
  return m ? m[1] : null;
}

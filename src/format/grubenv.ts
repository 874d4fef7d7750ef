/**
 * The GRUB environment block (`grubenv`): exactly 1024 bytes, the header
 * `# GRUB Environment Block\n`, then `NAME=VALUE\n` lines, then `#` up to
 * the end. A backslash in a value escapes the next byte (GRUB writes `\\`
 * and a backslash before a newline). greenboot keeps its boot counting here:
 * `boot_counter` (tries left, -1 once GRUB fell back) and `boot_success`.
 */
import { Codes, OstreeTsError } from '../errors/index.js';

export const GRUBENV_SIZE = 1024;
export const GRUBENV_HEADER = '# GRUB Environment Block\n';

function bad(file: string, why: string): OstreeTsError {
  return new OstreeTsError(Codes.SYSROOT_INVALID,
    `${file} is not a GRUB environment block: ${why}. Nothing was changed. Recreate it with 'grub-editenv ${file} create' (or remove it to start an empty one).`,
    { file });
}

/** The variables of a grubenv, in file order; a coded error naming `file` when it is not one. */
export function parseGrubenv(buf: Uint8Array, file: string): Map<string, string> {
  if (buf.length !== GRUBENV_SIZE) throw bad(file, `it is ${buf.length} bytes, not ${GRUBENV_SIZE}`);
  const text = Buffer.from(buf.buffer, buf.byteOffset, buf.length).toString('latin1');
  if (!text.startsWith(GRUBENV_HEADER)) throw bad(file, `it does not start with the header '${GRUBENV_HEADER.trim()}'`);
  const vars = new Map<string, string>();
  let i = GRUBENV_HEADER.length;
  while (i < text.length) {
    if (text[i] === '#') {
      // A comment or the padding: to the end of the line.
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl + 1;
      continue;
    }
    if (text[i] === '\n') {
      i++;
      continue;
    }
    const eq = text.indexOf('=', i);
    const nl = text.indexOf('\n', i);
    if (eq < 0 || (nl >= 0 && nl < eq)) throw bad(file, `the line at byte ${i} has no '='`);
    const name = text.slice(i, eq);
    let value = '';
    let j = eq + 1;
    for (; j < text.length && text[j] !== '\n'; j++) {
      if (text[j] === '\\' && j + 1 < text.length) j++;
      value += text[j];
    }
    if (j >= text.length) throw bad(file, `the variable ${name} is not ended by a newline`);
    vars.set(Buffer.from(name, 'latin1').toString('utf8'), Buffer.from(value, 'latin1').toString('utf8'));
    i = j + 1;
  }
  return vars;
}

/** A grubenv holding `vars` (in map order), padded with `#` to 1024 bytes; a coded error when they do not fit. */
export function serializeGrubenv(vars: ReadonlyMap<string, string>): Buffer {
  const parts: Buffer[] = [Buffer.from(GRUBENV_HEADER, 'latin1')];
  for (const [name, value] of vars) {
    if (!/^[^=\n#][^=\n]*$/.test(name)) {
      throw new OstreeTsError(Codes.USAGE, `'${name}' cannot be a GRUB environment variable name (it must be non-empty, without '=' or a newline, and not start with '#').`, { name });
    }
    parts.push(Buffer.from(`${name}=${value.replace(/[\\\n]/g, (c) => `\\${c}`)}\n`, 'utf8'));
  }
  const body = Buffer.concat(parts);
  if (body.length > GRUBENV_SIZE) {
    throw new OstreeTsError(Codes.NO_SPACE, `The GRUB environment variables take ${body.length} bytes, more than the ${GRUBENV_SIZE} of a grubenv. Unset some of them.`, { bytes: body.length });
  }
  return Buffer.concat([body, Buffer.alloc(GRUBENV_SIZE - body.length, '#')]);
}

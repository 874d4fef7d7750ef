/**
 * Valid values of every format the parsers read, as fast-check arbitraries;
 * each target encodes them with the project's own encoders, so the fuzzer
 * starts from what ostree-ts (and libostree) actually write.
 */
import fc from 'fast-check';
import {
  DELTA_PAYLOAD_TYPE, DELTA_SIGNED_MAGIC, DELTA_SIGNED_TYPE, KeyFile, BlsEntry, PartBuilder, S_IFDIR, S_IFLNK, S_IFREG, bytesToHex, canonicalXattrs, deltaDir,
  encodeCommit, encodeSuperblock, parse, serialize, sha256Hex, sortByName, swap32, swap64, validateFilename, writeVarint,
  type Commit, type DeltaObjectRef, type DeltaSuperblock, type DirMeta, type DirTree, type FileHeader, type VarDict, type Variant, type Xattr,
} from '../../src/format/index.js';

export const checksum = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(bytesToHex);

/** Text without NUL (GVariant strings cannot hold one), ASCII or any code point. */
export const text = (maxLength = 24): fc.Arbitrary<string> =>
  fc.oneof(fc.string({ unit: 'grapheme-ascii', maxLength }), fc.string({ unit: 'binary', maxLength })).map((s) => s.replace(/\0/g, ''));

export const u32 = fc.nat({ max: 0xffffffff });
export const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

const leaf: fc.Arbitrary<Variant> = fc.oneof(
  text().map((value) => ({ type: 's', value })),
  u32.map((value) => ({ type: 'u', value })),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((value) => ({ type: 'i', value })),
  u64.map((value) => ({ type: 't', value })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ type: 'x', value })),
  fc.boolean().map((value) => ({ type: 'b', value })),
  fc.nat({ max: 255 }).map((value) => ({ type: 'y', value })),
  fc.double({ noNaN: true }).map((value) => ({ type: 'd', value })),
  fc.uint8Array({ maxLength: 40 }).map((value) => ({ type: 'ay', value })),
  fc.array(text(), { maxLength: 4 }).map((value) => ({ type: 'as', value })),
  fc.array(fc.uint8Array({ maxLength: 36 }), { maxLength: 3 }).map((value) => ({ type: 'aay', value })),
  fc.option(text(), { nil: null }).map((value) => ({ type: 'ms', value })),
  fc.tuple(fc.nat({ max: 255 }), fc.uint8Array({ maxLength: 20 })).map((value) => ({ type: '(yay)', value })),
);

/** An a{sv} dictionary, values nested a little (variants in variants, dictionaries in dictionaries). */
export const varDict: fc.Arbitrary<VarDict> = fc.letrec<{ dict: VarDict; value: Variant }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('value').map((value) => ({ type: 'v', value })),
    tie('dict').map((value) => ({ type: 'a{sv}', value })),
  ),
  dict: fc.array(fc.tuple(text(16), tie('value')), { maxLength: 4 }),
})).dict;

/** LEB128 as `ostree.sizes` and delta operations write it. */
function varint(n: number): number[] {
  const out: number[] = [];
  writeVarint(out, n);
  return out;
}

/** An `ostree.sizes` entry: checksum, archived and unpacked sizes, object type. */
export const sizeEntry = fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(), fc.nat(), fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }))
  .map(([c, a, u, t]) => Buffer.from([...c, ...varint(a), ...varint(u), ...(t === null ? [] : [t])]));

/** Commit metadata as commits carry it: a version, sizes, a ref binding, and anything else. */
export const commitMetadata: fc.Arbitrary<VarDict> = fc.tuple(
  varDict,
  fc.option(text(), { nil: null }),
  fc.option(fc.array(sizeEntry, { maxLength: 4 }), { nil: null }),
  fc.option(fc.array(fc.stringMatching(/^[a-z][a-z0-9/]{0,12}$/), { maxLength: 2 }), { nil: null }),
).map(([rest, version, sizes, refs]) => [
  ...(version !== null ? [['version', { type: 's', value: version }] as [string, Variant]] : []),
  ...(sizes !== null ? [['ostree.sizes', { type: 'aay', value: sizes }] as [string, Variant]] : []),
  ...(refs !== null ? [['ostree.ref-binding', { type: 'as', value: refs }] as [string, Variant]] : []),
  ...rest.filter(([k]) => k.length > 0),
]);

export const commit: fc.Arbitrary<Commit> = fc.record({
  metadata: commitMetadata,
  parent: fc.option(checksum, { nil: null }),
  related: fc.array(fc.tuple(text(12), checksum), { maxLength: 2 }),
  subject: text(40),
  body: text(60),
  timestamp: u64,
  rootTree: checksum,
  rootMeta: checksum,
});

/** A file name a dirtree may hold. */
export const fileName = fc.oneof(fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/), text(8)).filter((n) => validateFilename(n) === null);

export const dirTree: fc.Arbitrary<DirTree> = fc.tuple(fc.uniqueArray(fileName, { maxLength: 8 }), fc.array(checksum, { minLength: 16, maxLength: 16 }), fc.nat({ max: 8 }))
  .map(([names, sums, split]) => {
    const cut = Math.min(split, names.length);
    return {
      files: sortByName(names.slice(0, cut).map((name, i) => ({ name, checksum: sums[i % 16] }))),
      dirs: sortByName(names.slice(cut).map((name, i) => ({ name, tree: sums[(i + 3) % 16], meta: sums[(i + 7) % 16] }))),
    };
  });

export const xattrs: fc.Arbitrary<Xattr[]> = fc.uniqueArray(
  fc.record({ name: fc.oneof(fc.constantFrom('security.selinux', 'user.a', 'security.capability', 'trusted.x'), fc.stringMatching(/^user\.[a-z]{1,8}$/)), value: fc.uint8Array({ minLength: 1, maxLength: 24 }) }),
  { selector: (x) => x.name, maxLength: 3 },
).map(canonicalXattrs);

export const dirMeta: fc.Arbitrary<DirMeta> = fc.record({
  uid: u32, gid: u32, mode: fc.nat({ max: 0o7777 }).map((m) => S_IFDIR | m), xattrs,
});

export const fileHeader: fc.Arbitrary<FileHeader> = fc.oneof(
  fc.record({ uid: u32, gid: u32, mode: fc.nat({ max: 0o7777 }).map((m) => S_IFREG | m), rdev: fc.constant(0), symlinkTarget: fc.constant(''), xattrs }),
  fc.record({ uid: u32, gid: u32, mode: fc.constant(S_IFLNK | 0o777), rdev: fc.constant(0), symlinkTarget: text(30).filter((s) => s.length > 0), xattrs }),
);

/** A ref name libostree accepts. */
export const refName = fc.stringMatching(/^[a-z0-9_][a-z0-9._-]{0,10}(\/[a-z0-9_][a-z0-9._-]{0,10}){0,2}$/).filter((r) => !/^[0-9a-f]{64}$/.test(r));

// ---------------------------------------------------------------------------
// Static deltas

/** A tiny bsdiff patch: one control block adding `next - old` byte-wise. */
export function bsdiffPatch(old: Uint8Array, next: Uint8Array): Buffer {
  const ctl = Buffer.alloc(24);
  ctl.writeBigUInt64LE(BigInt(next.length), 0);
  const diff = Buffer.from(next.map((b, i) => (b - (i < old.length ? old[i] : 0)) & 0xff));
  return Buffer.concat([ctl, diff]);
}

export interface ValidPart {
  payload: Buffer;
  objects: DeltaObjectRef[];
}

const mode = { uid: 0, gid: 0, mode: S_IFREG | 0o644, xattrs: [] as Xattr[] };

/** A part payload made by PartBuilder (whole objects, copies from a source), sometimes with a bspatch. */
export const deltaPart: fc.Arbitrary<ValidPart> = fc.tuple(
  fc.array(fc.oneof(
    fc.record({ kind: fc.constant('meta' as const), type: fc.constantFrom('dirtree' as const, 'dirmeta' as const), data: fc.uint8Array({ maxLength: 64 }) }),
    fc.record({ kind: fc.constant('content' as const), data: fc.uint8Array({ maxLength: 64 }), link: fc.boolean() }),
    fc.record({ kind: fc.constant('copied' as const), data: fc.uint8Array({ minLength: 40, maxLength: 200 }) }),
  ), { maxLength: 5 }),
  fc.option(fc.tuple(fc.uint8Array({ maxLength: 48 }), fc.uint8Array({ maxLength: 48 })), { nil: null }),
  checksum,
).map(([objs, patch, source]) => {
  const b = new PartBuilder();
  for (const o of objs) {
    const sum = sha256Hex(o.data);
    if (o.kind === 'meta') b.addMetadata(o.type, sum, o.data);
    else if (o.kind === 'content') b.addContent(sum, o.link ? { ...mode, mode: S_IFLNK | 0o777 } : mode, o.data);
    else b.addCopied(sum, mode, o.data, source, [[8, 0, 16], [30, 4, 8]].filter(([to, , len]) => to + len <= o.data.length) as Array<[number, number, number]>);
  }
  let payload = b.payload();
  const objects = [...b.objects];
  if (patch) {
    // PartBuilder writes no bspatch operation: append one by hand (open, set source, bspatch, close),
    // with a regular-file mode and an empty xattr list of its own at the ends of the tables.
    const [old, next] = patch;
    const p = bsdiffPatch(old, next);
    const [modes, xattrLists, blob, ops] = parse(DELTA_PAYLOAD_TYPE, payload) as [unknown[], unknown[], Uint8Array, Uint8Array];
    const srcAt = blob.length;
    const more = [
      0x6f, ...varint(modes.length), ...varint(xattrLists.length), ...varint(next.length),
      0x72, ...varint(srcAt), 0x42, ...varint(srcAt + 32), ...varint(p.length), 0x63,
    ];
    payload = serialize(DELTA_PAYLOAD_TYPE, [
      [...modes, [0, 0, swap32(S_IFREG | 0o644)]], [...xattrLists, []], Buffer.concat([blob, Buffer.from(source, 'hex'), p]), Buffer.from([...ops, ...more]),
    ]);
    objects.push({ type: 'file', checksum: sha256Hex(next) });
  }
  return { payload, objects };
});

/** Object list bytes (33 per object), the form a part header carries them in. */
export function objectListBytes(objects: DeltaObjectRef[]): Buffer {
  const types: Record<string, number> = { file: 1, dirtree: 2, dirmeta: 3, commit: 4 };
  return Buffer.concat(objects.map((o) => Buffer.concat([Buffer.from([types[o.type]]), Buffer.from(o.checksum, 'hex')])));
}

/** A superblock as `static-delta generate` writes it, sometimes signed, with inline parts and commitmeta. */
export const superblock: fc.Arbitrary<Buffer> = fc.tuple(
  commit, fc.option(checksum, { nil: null }), varDict, u64,
  fc.array(fc.record({ checksum, size: u64, uncompressedSize: u64, objects: fc.array(fc.record({ type: fc.constantFrom('file' as const, 'dirtree' as const, 'dirmeta' as const), checksum }), { maxLength: 3 }) }), { maxLength: 3 }),
  fc.array(fc.record({ type: fc.constantFrom('file' as const, 'dirtree' as const), checksum, compressedSize: u64, uncompressedSize: u64 }), { maxLength: 2 }),
  fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
  fc.option(varDict, { nil: null }),
  fc.boolean(),
).map(([c, from, md, ts, parts, fallbacks, inline, commitmeta, signed]) => {
  const commitBytes = encodeCommit(c);
  const to = sha256Hex(commitBytes);
  const metadata: VarDict = [...md.filter(([k]) => k !== 'ostree.endianness')];
  if (inline) metadata.push([`${deltaDir(from, to)}/0`, { type: '(yay)', value: [0, inline] }]);
  if (commitmeta) metadata.push([`${deltaDir(from, to)}/commitmeta`, { type: 'a{sv}', value: commitmeta }]);
  const sb: DeltaSuperblock = {
    metadata, timestamp: ts, from, to, commit: commitBytes, parts: parts.map((p) => ({ version: 0, ...p })), fallbacks,
  };
  const bytes = encodeSuperblock(sb);
  if (!signed) return bytes;
  return serialize(DELTA_SIGNED_TYPE, [swap64(DELTA_SIGNED_MAGIC), bytes, [['ostree.sign.ed25519', { type: 'aay', value: [Buffer.alloc(64, 7)] }]]]);
});

// ---------------------------------------------------------------------------
// Text formats

const keyName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,12}$/);
const groupName = fc.oneof(fc.stringMatching(/^[a-z]+( "[a-z0-9]+")?$/), fc.constantFrom('core', 'remote "origin"', 'origin', 'libostree-transient', 'sysroot'));

/** A key file as KeyFile renders it (with comments, escapes and odd values). */
export const keyFile: fc.Arbitrary<string> = fc.tuple(
  fc.array(fc.tuple(groupName, fc.array(fc.tuple(keyName, fc.oneof(text(20), fc.constantFrom('true', 'false', '1', '0', ' lead', 'a\\b', 'x\ny', '\ttab'))), { maxLength: 5 })), { maxLength: 4 }),
  fc.array(fc.stringMatching(/^#[ -~]{0,20}$/), { maxLength: 2 }),
).map(([groups, comments]) => {
  const kf = KeyFile.parse(comments.join('\n') + (comments.length ? '\n' : ''));
  for (const [g, entries] of groups) for (const [k, v] of entries) kf.set(g, k, v);
  return kf.render();
});

/** An origin file as deploy and upgrade write it. */
export const originFile: fc.Arbitrary<string> = fc.tuple(
  fc.option(fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/), { nil: null }), refName, fc.option(checksum, { nil: null }), fc.boolean(), fc.option(text(30), { nil: null }),
).map(([remote, ref, override, pinned, unconfigured]) => {
  const kf = KeyFile.parse('');
  kf.set('origin', 'refspec', remote ? `${remote}:${ref}` : ref);
  if (override) kf.set('origin', 'override-commit', override);
  if (unconfigured) kf.set('origin', 'unconfigured-state', unconfigured);
  if (pinned) kf.set('libostree-transient', 'pinned', 'true');
  return kf.render();
});

/** A boot entry as deploy writes it. */
export const blsEntry: fc.Arbitrary<string> = fc.tuple(
  text(30), fc.stringMatching(/^[0-9]{1,3}(\.[0-9a-z]{1,3}){0,3}$/), fc.array(fc.stringMatching(/^[a-z_.]{1,8}(=[a-zA-Z0-9/"., _-]{0,16})?$/), { maxLength: 5 }),
  checksum, fc.nat({ max: 3 }), fc.boolean(), fc.array(fc.tuple(keyName, text(12)), { maxLength: 2 }),
).map(([title, version, args, boot, serial, devicetree, extra]) => {
  const e = new BlsEntry();
  e.set('title', title.replace(/\n/g, ' '));
  e.set('version', version);
  e.set('options', [...args, `ostree=/ostree/boot.1/debian/${boot}/${serial}`].join(' '));
  if (devicetree) e.set('devicetree', `/ostree/debian-${boot}/dtb`);
  e.set('linux', `/ostree/debian-${boot}/vmlinuz-6.1.0`);
  e.add('initrd', `/ostree/debian-${boot}/initramfs-6.1.0.img`);
  for (const [k, v] of extra) e.add(k, v.replace(/\n/g, ' '));
  return e.render();
});

/**
 * The parsers of untrusted or possibly torn bytes, one entry each. Adding a
 * parser to the fuzz suite is adding one entry here: its valid encodings
 * (made by the project's encoders), how to feed it bytes, the name it is
 * told it reads, and what it claims where it succeeds.
 */
import fc from 'fast-check';
import { OstreeTsError } from '../../src/errors/index.js';
import {
  ARCHIVE_HEADER_TYPE, BlsEntry, COMMIT_TYPE, DELTA_PAYLOAD_TYPE, DELTA_SUPERBLOCK_TYPE, DIRMETA_TYPE, DIRTREE_TYPE, FILE_HEADER_TYPE, KeyFile, Kargs,
  S_IFLNK, S_IFREG, bspatch, byteswapValue, decodeArchiveHeader, decodeCommit, decodeDirMeta, decodeDirTree, decodeFileHeader, decodeMetadata,
  decodeObjectSize, decodePayload, decodeSuperblock, decodeUserMeta, encodeArchiveHeader, encodeCommit, encodeDirMeta, encodeDirTree,
  encodeFileHeader, encodeMetadata, encodeUserMeta, inlinePart, isChecksum, lookup, parse, parseDeltaDigests, parseNormal, parseDeltaName, parseOsRelease,
  parseRefSpec, parseVariantText, planPart, printValue, serialize, strverscmp, superblockCommitMeta, swap32, unwrapSignedSuperblock, validateRefName,
  type DeltaObjectRef, type GType, type PlannedObject, type Variant,
} from '../../src/format/index.js';
import { badName, decrementedName, parseBootCounter, parseGrubenv, serializeGrubenv } from '../../src/format/index.js';
import { parseAssessment } from '../../src/sysroot/assessment.js';
import { SUMMARY_TYPE, decodeSummary, encodeSummary, summaryView, type Summary } from '../../src/repo/summary.js';
import { parseAtomicConfig } from '../../src/host/atomic-conf.js';
import { encodeTarHeader, readTar, tarPadding, tarTrailer, type TarWriteEntry } from '../../src/io/tar.js';
import { FuzzFailure, sameBytes, type FuzzTarget } from './harness.js';
import * as V from './valid.js';

/** The object every object decoder is told it reads: its errors must name it. */
const OBJECT = 'c0ffee00'.repeat(8);

const utf8 = new TextDecoder('utf-8');
const enc = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const tokens = (...t: string[]): Uint8Array[] => t.map(enc);

/** Only a coded error is allowed through from a step a parser's caller takes after it (a bad refspec, say). */
function coded(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof OstreeTsError)) throw e;
  }
}

/** GVariant types tried by the codec target: the first input byte picks one. */
const GV_TYPES: Array<[string | GType, fc.Arbitrary<unknown>]> = [
  ['a{sv}', V.varDict],
  ['v', V.varDict.map((d) => ({ type: 'a{sv}', value: d }))],
  ['av', fc.array(V.varDict.map((d) => ({ type: 'a{sv}', value: d })), { maxLength: 3 })],
  ['mv', fc.option(V.varDict.map((d) => ({ type: 'a{sv}', value: d })), { nil: null })],
  ['as', fc.array(V.text(), { maxLength: 5 })],
  ['aay', fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 4 })],
  ['a(ayay)', V.xattrs.map((x) => x.map((a) => [Buffer.from(`${a.name}\0`), a.value]))],
  ['ms', fc.option(V.text(), { nil: null })],
  ['m(ss)', fc.option(fc.tuple(V.text(), V.text()), { nil: null })],
  ['(sut)', fc.tuple(V.text(), V.u32, V.u64)],
  ['ad', fc.array(fc.double({ noNaN: true }), { maxLength: 4 })],
  ['ab', fc.array(fc.boolean(), { maxLength: 6 })],
  ['a{ss}', fc.array(fc.tuple(V.text(), V.text()), { maxLength: 4 })],
  ['()', fc.constant([])],
  ['a()', fc.array(fc.constant([]), { maxLength: 4 })],
  ['(yay)', fc.tuple(fc.nat({ max: 255 }), fc.uint8Array({ maxLength: 30 }))],
  [COMMIT_TYPE, V.commit.map((c) => parse(COMMIT_TYPE, encodeCommit(c)))],
  [DIRTREE_TYPE, V.dirTree.map((t) => parse(DIRTREE_TYPE, encodeDirTree(t)))],
  [DIRMETA_TYPE, V.dirMeta.map((m) => parse(DIRMETA_TYPE, encodeDirMeta(m)))],
  [FILE_HEADER_TYPE, V.fileHeader.map((h) => parse(FILE_HEADER_TYPE, encodeFileHeader(h).subarray(8)))],
  [ARCHIVE_HEADER_TYPE, V.fileHeader.map((h) => parse(ARCHIVE_HEADER_TYPE, encodeArchiveHeader(h, 5).subarray(8)))],
  [SUMMARY_TYPE, fc.constant([[], []])],
  [DELTA_SUPERBLOCK_TYPE, V.superblock.map((b) => parse(DELTA_SUPERBLOCK_TYPE, unwrapSignedSuperblock(b).superblock))],
  [DELTA_PAYLOAD_TYPE, V.deltaPart.map((p) => parse(DELTA_PAYLOAD_TYPE, p.payload))],
];

/** Summaries as `summary -u` writes them: refs, deltas, a collection map. */
const summary: fc.Arbitrary<Summary> = fc.tuple(
  fc.uniqueArray(V.refName, { maxLength: 4 }), fc.array(V.checksum, { minLength: 4, maxLength: 4 }), V.u64, fc.option(V.text(), { nil: null }),
  fc.array(fc.tuple(V.checksum, fc.option(V.checksum, { nil: null }), V.checksum), { maxLength: 2 }), V.varDict, fc.boolean(),
).map(([names, sums, ts, version, deltas, extra, collections]) => {
  const refs = names.sort().map((name, i) => ({
    name, size: BigInt(300 + i), checksum: sums[i],
    metadata: [['ostree.commit.timestamp', { type: 't', value: ts }], ...(version !== null ? [['ostree.commit.version', { type: 's', value: version }]] : [])] as Array<[string, Variant]>,
  }));
  const metadata: Array<[string, Variant]> = [...extra];
  if (deltas.length) {
    metadata.push(['ostree.static-deltas', { type: 'a{sv}', value: deltas.map(([to, from, digest]) => [from ? `${from}-${to}` : to, { type: 'ay', value: Buffer.from(digest, 'hex') }]) }]);
  }
  metadata.push(['ostree.summary.last-modified', { type: 't', value: ts }], ['ostree.summary.mode', { type: 's', value: 'archive-z2' }]);
  if (collections) {
    metadata.push(['ostree.summary.collection-map', {
      type: 'a{sa(s(taya{sv}))}',
      value: [['org.example.Os', refs.map((r) => [r.name, [r.size, Buffer.from(r.checksum, 'hex'), r.metadata]])]],
    }]);
  }
  return { refs, metadata };
});

/** Tar archives as `export` writes them, plus GNU long names and the odd PAX record. */
const tarArchive: fc.Arbitrary<Uint8Array> = fc.array(fc.tuple(
  fc.oneof(fc.stringMatching(/^[a-z0-9._/-]{1,20}$/), fc.stringMatching(/^[a-z]{90,130}$/), V.text(20).filter((s) => s.length > 0)),
  fc.constantFrom('file' as const, 'directory' as const, 'symlink' as const, 'hardlink' as const),
  fc.uint8Array({ maxLength: 700 }), fc.nat({ max: 0o7777 }), fc.oneof(fc.nat({ max: 2000 }), fc.constant(0o7777777 + 5)), V.xattrs, fc.boolean(),
), { maxLength: 4 }).map((entries) => {
  const blocks: Buffer[] = [];
  for (const [path, type, data, mode, uid, xattrs, gnu] of entries) {
    if (gnu) {
      // A GNU long name ('L') record before the entry.
      const name = Buffer.from(`${path}\0`);
      blocks.push(encodeTarHeader({ path: '././@LongLink', type: 'file', mode: 0o644, uid: 0, gid: 0, size: name.length, mtime: 0 }));
      blocks[blocks.length - 1][156] = 0x4c;
      fixChecksum(blocks[blocks.length - 1]);
      blocks.push(name, tarPadding(name.length));
    }
    const e: TarWriteEntry = { path, type, mode, uid, gid: uid, mtime: 1700000000, xattrs, size: type === 'file' ? data.length : 0, linkpath: type === 'symlink' || type === 'hardlink' ? 'target/x' : undefined };
    blocks.push(encodeTarHeader(e));
    if (type === 'file') blocks.push(Buffer.from(data), tarPadding(data.length));
  }
  blocks.push(tarTrailer());
  return Buffer.concat(blocks);
});

/** Recompute a ustar header block's checksum after editing it. */
function fixChecksum(block: Buffer): void {
  const header = block.subarray(block.length - 512);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

/** Split bytes into the uneven chunks a stream delivers, decided by the bytes themselves. */
async function* chunks(input: Uint8Array): AsyncGenerator<Buffer> {
  let at = 0;
  let step = 1 + ((input.length * 7919) % 997);
  while (at < input.length) {
    yield Buffer.from(input.subarray(at, at + step));
    at += step;
    step = 1 + ((step * 31 + 17) % 1400);
  }
}

const PART = 'delta part FUZZ/0';

/** A part header's object list (33 bytes an object: type 1 file, 2 dirtree, 3 dirmeta, 4 commit, others taken modulo 4). */
function objectRefs(list: Uint8Array): DeltaObjectRef[] {
  const types = ['commit', 'file', 'dirtree', 'dirmeta'] as const;
  const objects: DeltaObjectRef[] = [];
  for (let i = 0; i + 33 <= list.length; i += 33) objects.push({ type: types[list[i] % 4], checksum: Buffer.from(list.subarray(i + 1, i + 33)).toString('hex') });
  return objects;
}

/** Mode and xattr tables (as stored: numbers big-endian) for operations whose own tables were damaged. */
const DEFAULT_TABLES: [unknown[], unknown[]] = [
  [[0, 0, swap32(S_IFREG | 0o644)], [0, 0, swap32(S_IFLNK | 0o777)], [swap32(1000), swap32(1000), swap32(S_IFREG | 0o755)]],
  [[], [[Buffer.from('user.a\0'), Buffer.from('1')]]],
];

/** What applying a plan reads: metadata objects decoded, bspatch run against a source. */
function buildPart(plan: PlannedObject[]): PlannedObject[] {
  const source = Buffer.alloc(64, 0x5a);
  for (const obj of plan) {
    if (obj.kind === 'metadata') {
      coded(() => (obj.type === 'dirtree' ? decodeDirTree(obj.data, obj.checksum) : obj.type === 'dirmeta' ? decodeDirMeta(obj.data) : undefined));
      continue;
    }
    for (const p of obj.pieces) if (p.kind === 'bspatch') bspatch(source, p.patch, obj.size, `${PART}, object ${obj.checksum}`);
  }
  return plan;
}

export const TARGETS: FuzzTarget[] = [
  {
    name: 'gvariant',
    parses: 'the GVariant codec: parse, parseNormal, printValue and byteswapValue over the types OSTree stores',
    valid: fc.nat({ max: GV_TYPES.length - 1 }).chain((i) => GV_TYPES[i][1].map((v) => Buffer.concat([Buffer.from([i]), serialize(GV_TYPES[i][0], v)]))),
    run(input) {
      if (input.length === 0) return null;
      const [type] = GV_TYPES[input[0] % GV_TYPES.length];
      const data = input.subarray(1);
      const value = parse(type, data);
      printValue(type, value);
      byteswapValue(type, value);
      return { type, value };
    },
    check(input, out) {
      if (out === null) return;
      const { type, value } = out as { type: string | GType; value: unknown };
      const name = `gvariant '${typeof type === 'string' ? type : type.str}'`;
      // What parse accepts, serialize writes in normal form: parseNormal takes that back unchanged...
      const normal = serialize(type, value);
      sameBytes(name, normal, serialize(type, parseNormal(type, normal)));
      // ...and parseNormal takes the input itself exactly when it was that normal form.
      let accepted = true;
      try {
        parseNormal(type, input.subarray(1));
      } catch (e) {
        if (!(e instanceof OstreeTsError)) throw e;
        accepted = false;
      }
      if (accepted !== Buffer.from(normal).equals(input.subarray(1))) throw new FuzzFailure('claim', `${name}: parseNormal and re-serializing disagree on whether the input is normal form.`);
    },
  },
  {
    name: 'gvariant-text',
    parses: 'GVariant text (--add-metadata values), printed by printValue and parsed back',
    valid: fc.oneof(
      V.varDict.map((d) => printValue('a{sv}', d)),
      V.varDict.chain((d) => fc.constant(d.length ? printValue('v', d[0][1]) : "'x'")),
      fc.constantFrom("uint32 5", "@as []", "['a', 'b']", "(1, 'x', true)", "<int64 -1>", "b'abc'", "[byte 0x01, 0x02]", "@ms nothing", "@a{sv} []", "0x1f", "-2.5e3"),
    ).map(enc),
    dictionary: tokens('[', ']', '(', ')', '<', '>', ',', "'", '"', '\\', '@', 'uint64 ', 'byte ', 'b', 'nothing', '0x', 'e', '.', '-', '@a{sv} ', '@u ', '@mau '),
    maxLength: 4096,
    run(input) {
      const v = parseVariantText(utf8.decode(input));
      // What the text parser returns is a value the binary codec can write, read and print.
      const bytes = serialize(v.type, v.value);
      const back = parse(v.type, bytes);
      printValue(v.type, back);
      return { v, bytes };
    },
    check(_input, out) {
      const { v, bytes } = out as { v: Variant; bytes: Buffer };
      sameBytes(`gvariant-text '${v.type}'`, bytes, serialize(v.type, parse(v.type, bytes)));
    },
  },
  {
    name: 'commit',
    parses: '.commit objects (decodeCommit)',
    valid: V.commit.map(encodeCommit),
    label: OBJECT,
    run: (input) => decodeCommit(input, OBJECT),
    check: (input, out) => sameBytes('commit', input, encodeCommit(out as ReturnType<typeof decodeCommit>)),
  },
  {
    name: 'dirtree',
    parses: '.dirtree objects (decodeDirTree)',
    valid: V.dirTree.map(encodeDirTree),
    label: OBJECT,
    run: (input) => decodeDirTree(input, OBJECT),
    check: (input, out) => sameBytes('dirtree', input, encodeDirTree(out as ReturnType<typeof decodeDirTree>)),
  },
  {
    name: 'dirmeta',
    parses: '.dirmeta objects (decodeDirMeta)',
    valid: V.dirMeta.map(encodeDirMeta),
    label: OBJECT,
    run: (input) => decodeDirMeta(input, `dirmeta ${OBJECT}`),
    check: (input, out) => sameBytes('dirmeta', input, encodeDirMeta(out as ReturnType<typeof decodeDirMeta>)),
  },
  {
    name: 'commitmeta',
    parses: 'detached metadata, .commitmeta and summary.sig (decodeMetadata)',
    valid: V.varDict.map(encodeMetadata),
    label: OBJECT,
    run: (input) => decodeMetadata(input, `commitmeta ${OBJECT}`),
    check: (input, out) => sameBytes('commitmeta', input, encodeMetadata(out as ReturnType<typeof decodeMetadata>)),
  },
  {
    name: 'file-header',
    parses: 'the content-object header a bare repository hashes (decodeFileHeader)',
    valid: V.fileHeader.map(encodeFileHeader),
    label: OBJECT,
    run: (input) => decodeFileHeader(input, `file ${OBJECT}`),
    check(input, out) {
      const { header, length } = out as ReturnType<typeof decodeFileHeader>;
      sameBytes('file header', input.subarray(8, length), encodeFileHeader(header).subarray(8));
    },
  },
  {
    name: 'filez-header',
    parses: 'the .filez header of archive repositories (decodeArchiveHeader)',
    valid: fc.tuple(V.fileHeader, V.u64, fc.uint8Array({ maxLength: 32 })).map(([h, size, body]) => Buffer.concat([encodeArchiveHeader(h, size), body])),
    label: OBJECT,
    run: (input) => decodeArchiveHeader(input, `file ${OBJECT}`),
    check(input, out) {
      const { header, size, length } = out as ReturnType<typeof decodeArchiveHeader>;
      sameBytes('filez header', input.subarray(8, length), encodeArchiveHeader(header, size).subarray(8));
    },
  },
  {
    name: 'user-meta',
    parses: 'the user.ostreemeta xattr of bare-user repositories (decodeUserMeta)',
    valid: V.fileHeader.map((h) => encodeUserMeta(h.uid, h.gid, h.mode, h.xattrs)),
    label: OBJECT,
    run: (input) => decodeUserMeta(input, `user.ostreemeta of ${OBJECT}`),
    check(input, out) {
      const m = out as ReturnType<typeof decodeUserMeta>;
      sameBytes('user.ostreemeta', input, encodeUserMeta(m.uid, m.gid, m.mode, m.xattrs));
    },
  },
  {
    name: 'ostree-sizes',
    parses: 'ostree.sizes entries of commit metadata (decodeObjectSize)',
    valid: V.sizeEntry,
    label: OBJECT,
    run: (input) => decodeObjectSize(input, `ostree.sizes of commit ${OBJECT}`),
  },
  {
    name: 'summary',
    parses: 'a remote summary: decodeSummary, its view, its delta list and delta names',
    valid: summary.map(encodeSummary),
    label: 'summary of FUZZ',
    run(input) {
      const s = decodeSummary(input, 'summary of FUZZ');
      summaryView(s);
      const deltas = parseDeltaDigests(lookup(s.metadata, 'ostree.static-deltas', 'a{sv}'));
      for (const name of deltas.keys()) coded(() => parseDeltaName(name));
      return s;
    },
    check: (input, out) => sameBytes('summary', input, encodeSummary(out as Summary)),
  },
  {
    name: 'delta-superblock',
    parses: 'static-delta superblocks, signed or not: unwrap, decode, inline parts, commitmeta, the embedded commit',
    valid: V.superblock,
    label: 'superblock FUZZ',
    run(input) {
      const { superblock } = unwrapSignedSuperblock(input, 'superblock FUZZ');
      const sb = decodeSuperblock(superblock, 'superblock FUZZ');
      decodeCommit(sb.commit, sb.to);
      sb.parts.forEach((_, i) => inlinePart(sb, i));
      const meta = superblockCommitMeta(sb);
      if (meta) decodeMetadata(meta, 'superblock FUZZ commitmeta');
      return sb;
    },
  },
  {
    name: 'delta-part',
    parses: 'static-delta part payloads: decodePayload, planPart (the operation stream), the objects built, bspatch',
    // Input: a 2-byte length, the part header's object list (33 bytes an object), then the payload.
    valid: V.deltaPart.map(({ payload, objects }) => {
      const list = V.objectListBytes(objects);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(list.length);
      return Buffer.concat([len, list, payload]);
    }),
    label: PART,
    run(input) {
      if (input.length < 2) return null;
      const len = Math.min(input.length - 2, (input[0] << 8) | input[1]);
      const objects = objectRefs(input.subarray(2, 2 + len));
      return buildPart(planPart(decodePayload(input.subarray(2 + len), PART), objects, PART));
    },
  },
  {
    name: 'delta-ops',
    parses: 'static-delta operation streams (planPart) and bspatch, with the payload framed so that damage lands in the operations and blob',
    // Input: u16 length + object list, u16 length + the mode and xattr tables '(a(uuu)aa(ayay))', u32 length + blob, then the operations.
    valid: V.deltaPart.map(({ payload, objects }) => {
      const [modes, xattrLists, blob, ops] = parse(DELTA_PAYLOAD_TYPE, payload) as [unknown[], unknown[], Uint8Array, Uint8Array];
      const list = V.objectListBytes(objects);
      const tables = serialize('(a(uuu)aa(ayay))', [modes, xattrLists]);
      const head = Buffer.alloc(8);
      head.writeUInt16BE(list.length, 0);
      head.writeUInt16BE(tables.length, 2);
      head.writeUInt32BE(blob.length, 4);
      return Buffer.concat([head.subarray(0, 2), list, head.subarray(2, 4), tables, head.subarray(4, 8), blob, ops]);
    }),
    label: PART,
    run(input) {
      const b = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      let at = 0;
      const take = (width: 2 | 4): Buffer => {
        const n = at + width > b.length ? 0 : width === 2 ? b.readUInt16BE(at) : b.readUInt32BE(at);
        at = Math.min(b.length, at + width);
        const out = b.subarray(at, Math.min(b.length, at + n));
        at += out.length;
        return out;
      };
      const objects = objectRefs(take(2));
      const tablesBytes = take(2);
      const blob = take(4);
      const ops = b.subarray(at);
      let tables: [unknown[], unknown[]];
      try {
        tables = parse('(a(uuu)aa(ayay))', tablesBytes) as typeof tables;
      } catch {
        tables = DEFAULT_TABLES; // the framing of this harness, not the part, is damaged: fuzz the operations all the same
      }
      const payload = serialize(DELTA_PAYLOAD_TYPE, [tables[0], tables[1], blob, ops]);
      return buildPart(planPart(decodePayload(payload, PART), objects, PART));
    },
  },
  {
    name: 'tar',
    parses: 'tar streams (readTar): header blocks, PAX records, GNU long names, entry bodies',
    valid: tarArchive,
    label: 'fuzz.tar',
    async: true,
    maxLength: 1 << 17,
    async run(input) {
      let n = 0;
      for await (const e of readTar(chunks(input), { name: 'fuzz.tar', maxMetaSize: 64 * 1024 })) {
        let got = 0;
        for await (const c of e.body()) got += c.length;
        if (got !== e.size) throw new FuzzFailure('claim', `tar: entry ${JSON.stringify(e.path)} gave ${got} bytes of its ${e.size}.`);
        for (const [k, v] of [['size', e.size], ['uid', e.uid], ['gid', e.gid]] as const) {
          if (!Number.isSafeInteger(v) || v < 0) throw new FuzzFailure('claim', `tar: entry ${JSON.stringify(e.path)} has ${k} ${v}.`);
        }
        if (e.mode > 0o7777) throw new FuzzFailure('claim', `tar: mode ${e.mode.toString(8)}.`);
        n++;
      }
      return n;
    },
  },
  {
    name: 'keyfile',
    parses: 'key files: repository config, remotes (KeyFile.parse, get, getBool, render)',
    valid: V.keyFile.map(enc),
    dictionary: tokens('\n', '[', ']', '=', '#', '\\', '\\s', '\\n', '\r\n', ' ', '[core]\n', 'true', 'x=1\n'),
    label: '/fuzz/repo/config',
    run(input) {
      const kf = KeyFile.parse(utf8.decode(input), '/fuzz/repo/config');
      // A value that is not a boolean is refused naming the file too.
      for (const g of kf.groups) {
        for (const l of g.lines) {
          if (l.kind !== 'entry') continue;
          try {
            kf.getBool(g.name, l.key, false);
          } catch (e) {
            if (!(e instanceof OstreeTsError) || !e.message.includes('/fuzz/repo/config')) throw e;
          }
        }
      }
      return kf;
    },
    check(_input, out) {
      // Rendering keeps what was read: reading the rendering back renders the same.
      const once = (out as KeyFile).render();
      const twice = KeyFile.parse(once, 'rendered').render();
      if (once !== twice) throw new FuzzFailure('claim', `keyfile: a rendering does not read back the same:\n${JSON.stringify(once)}\n${JSON.stringify(twice)}`);
    },
  },
  {
    name: 'origin',
    parses: 'deployment .origin files: the key file, its refspec, override commit and pin',
    valid: V.originFile.map(enc),
    dictionary: tokens('\n', '[origin]\n', 'refspec=', ':', '/', 'override-commit=', '[libostree-transient]\npinned=true\n', '=', '\\'),
    label: '/fuzz/deploy/x.origin',
    run(input) {
      const kf = KeyFile.parse(utf8.decode(input), '/fuzz/deploy/x.origin');
      const refspec = kf.get('origin', 'refspec');
      if (refspec !== undefined) coded(() => validateRefName(parseRefSpec(refspec).ref));
      const override = kf.get('origin', 'override-commit');
      if (override !== undefined) isChecksum(override);
      return kf.get('libostree-transient', 'pinned') === 'true';
    },
  },
  {
    name: 'bls',
    parses: 'boot loader entries: BlsEntry.parse, the ostree= argument (Kargs), the version order (strverscmp)',
    valid: V.blsEntry.map(enc),
    dictionary: tokens('\n', ' ', '\t', 'options ', 'version ', 'ostree=', '"', '=', '\r', '0', '9', '.', 'title '),
    run(input) {
      const e = BlsEntry.parse(utf8.decode(input));
      const kargs = Kargs.parse(e.get('options') ?? '');
      kargs.get('ostree');
      const version = e.get('version') ?? '';
      for (const other of ['', '1', '1.0', '10', '01', '1.0.1', '2a', version]) {
        const a = Math.sign(strverscmp(version, other));
        const b = Math.sign(strverscmp(other, version));
        if (a !== -b) throw new FuzzFailure('claim', `strverscmp is not antisymmetric for ${JSON.stringify(version)} and ${JSON.stringify(other)}.`);
      }
      return e;
    },
    check(_input, out) {
      const once = (out as BlsEntry).render();
      const twice = BlsEntry.parse(once).render();
      if (once !== twice) throw new FuzzFailure('claim', `bls: a rendering does not read back the same:\n${JSON.stringify(once)}\n${JSON.stringify(twice)}`);
    },
  },
  {
    name: 'atomic-conf',
    parses: 'the host updater\'s atomic.conf (parseAtomicConfig: key file, groups, keys and their ranges)',
    valid: fc.record({
      tries: fc.option(fc.nat({ max: 99 }), { nil: undefined }),
      backend: fc.option(fc.constantFrom('bls', 'grub', 'systemd-boot'), { nil: undefined }),
      esp: fc.option(fc.constantFrom('/boot/efi', '/efi', '/boot/efi/EFI/../x'), { nil: undefined }),
      timeout: fc.option(fc.integer({ min: 1, max: 86_400 }), { nil: undefined }),
      code: fc.option(fc.integer({ min: 1, max: 255 }), { nil: undefined }),
      max: fc.option(fc.integer({ min: 256, max: 16 * 1024 * 1024 }), { nil: undefined }),
      reboot: fc.option(fc.constantFrom('systemctl reboot', "/sbin/reboot -f 'now'", '"a b" c'), { nil: undefined }),
      checks: fc.array(fc.tuple(fc.stringMatching(/^[0-9a-z.-]{1,12}$/), fc.integer({ min: 1, max: 86_400 })), { maxLength: 3 }),
    }).map((c) => {
      const boot = [c.tries !== undefined ? `tries=${c.tries}` : '', c.backend ? `backend=${c.backend}` : '', c.esp ? `esp=${c.esp}` : ''].filter(Boolean);
      const hc = [c.timeout !== undefined ? `timeout=${c.timeout}` : '', c.code !== undefined ? `inconclusive-code=${c.code}` : '',
        c.max !== undefined ? `max-output=${c.max}` : '', c.reboot ? `reboot-command=${c.reboot}` : ''].filter(Boolean);
      return enc([boot.length ? `[boot]\n${boot.join('\n')}\n` : '', hc.length ? `[health-check]\n${hc.join('\n')}\n` : '',
        ...c.checks.map(([n, t]) => `[check ${n}]\ntimeout=${t}\n`)].join(''));
    }),
    dictionary: tokens('\n', '[boot]\n', '[health-check]\n', '[check x]\n', 'tries=', 'backend=', 'esp=/', 'timeout=', 'inconclusive-code=', 'max-output=',
      'reboot-command=', '=', '"', "'", '-1', '99', '100', '0', '..'),
    label: '/fuzz/etc/ostree-ts/atomic.conf',
    run: (input) => parseAtomicConfig(utf8.decode(input), '/fuzz/etc/ostree-ts/atomic.conf', null),
    check(_input, out) {
      const c = out as ReturnType<typeof parseAtomicConfig>;
      if (!(Number.isInteger(c.tries) && c.tries >= 0 && c.tries <= 99)) throw new FuzzFailure('claim', `atomic-conf: tries ${c.tries} out of range`);
      if (!(c.checkTimeout >= 1 && c.inconclusiveCode >= 1 && c.inconclusiveCode <= 255 && c.maxOutput >= 256 && c.rebootCommand.length > 0)) {
        throw new FuzzFailure('claim', `atomic-conf: a value out of range was accepted: ${JSON.stringify(c)}`);
      }
    },
  },
  {
    name: 'grubenv',
    parses: 'GRUB environment blocks (parseGrubenv), and a rewrite of what was read (serializeGrubenv)',
    valid: fc.array(fc.tuple(fc.stringMatching(/^[a-z_]{1,12}$/), V.text(24)), { maxLength: 8 })
      .map((vars) => new Uint8Array(serializeGrubenv(new Map(vars)))),
    dictionary: tokens('\n', '=', '#', '\\', '# GRUB Environment Block\n', 'boot_counter=', 'boot_success=', '-1', '0', '1'),
    label: '/fuzz/boot/grub/grubenv',
    run: (input) => parseGrubenv(input, '/fuzz/boot/grub/grubenv'),
    check(_input, out) {
      const vars = out as Map<string, string>;
      let again: Buffer;
      try {
        again = serializeGrubenv(vars);
      } catch (e) {
        if (e instanceof OstreeTsError) return;
        throw e;
      }
      const back = parseGrubenv(again, 'rewritten');
      if (JSON.stringify([...back]) !== JSON.stringify([...vars])) {
        throw new FuzzFailure('claim', `grubenv: a rewrite does not read back the same:\n${JSON.stringify([...vars])}\n${JSON.stringify([...back])}`);
      }
    },
  },
  {
    name: 'boot-counter',
    parses: 'boot counters in entry file names (parseBootCounter) and the names systemd-boot and bless-boot give them',
    valid: fc.tuple(fc.stringMatching(/^[a-z0-9+-]{1,16}$/), fc.option(fc.tuple(fc.nat(20), fc.nat(20))), fc.constantFrom('.conf', '.efi', ''))
      .map(([stem, c, ext]) => enc(`${stem}${c ? (c[1] ? `+${c[0]}-${c[1]}` : `+${c[0]}`) : ''}${ext}`)),
    dictionary: tokens('+', '-', '.conf', '.efi', '0', '3', '65535', '65536'),
    run(input) {
      const name = utf8.decode(input);
      const p = parseBootCounter(name);
      const next = decrementedName(name);
      if ((p === null) !== (next === null)) throw new FuzzFailure('claim', `boot-counter: ${JSON.stringify(name)} has a counter to one reader and not to the other`);
      if (p && next) {
        const q = parseBootCounter(next);
        if (!q || q.stem !== p.stem || q.left !== Math.max(p.left - 1, 0) || q.done < p.done) {
          throw new FuzzFailure('claim', `boot-counter: ${JSON.stringify(name)} → ${JSON.stringify(next)} is not one try fewer`);
        }
      }
      const bad = parseBootCounter(badName(name));
      if ((name.endsWith('.conf') || name.endsWith('.efi')) && (!bad || bad.left !== 0)) {
        throw new FuzzFailure('claim', `boot-counter: the bad name of ${JSON.stringify(name)} (${badName(name)}) has tries left`);
      }
      return p;
    },
  },
  {
    name: 'assessment',
    parses: 'the boot assessment record under the sysroot (parseAssessment)',
    valid: fc.record({
      version: fc.constant(1),
      deployments: fc.dictionary(fc.stringMatching(/^[a-z]{1,6}\/[0-9a-f]{64}\.[0-9]$/), fc.record({
        state: fc.constantFrom('untested', 'good', 'failed'), tries: fc.nat(5), since: fc.constant('2026-01-01T00:00:00Z'),
      }), { maxKeys: 3 }),
      quarantine: fc.array(fc.record({ commit: fc.stringMatching(/^[0-9a-f]{64}$/), reason: V.text(10), since: fc.constant('2026-01-01T00:00:00Z') }), { maxLength: 2 }),
    }).map((r) => enc(JSON.stringify(r))),
    dictionary: tokens('{', '}', '[', ']', '"', ':', ',', 'null', '"version":1', '"deployments":{}', '"quarantine":[]', '"state":"good"'),
    label: '/fuzz/ostree/atomic/assessment.json',
    run: (input) => parseAssessment(utf8.decode(input), '/fuzz/ostree/atomic/assessment.json'),
  },
  {
    name: 'os-release',
    parses: 'os-release of a deployment (parseOsRelease), which entries are titled from',
    valid: fc.array(fc.tuple(fc.stringMatching(/^[A-Z_]{1,12}$/), V.text(20), fc.constantFrom('', '"', "'")), { maxLength: 6 })
      .map((lines) => enc(lines.map(([k, v, q]) => `${k}=${q}${v.replace(/["'\\\n]/g, '')}${q}`).join('\n'))),
    dictionary: tokens('\n', '=', '"', "'", '\\', '#', 'PRETTY_NAME='),
    run: (input) => parseOsRelease(utf8.decode(input)),
  },
];

export function targetByName(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target '${name}' (known: ${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}


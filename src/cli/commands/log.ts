import { sha256Hex } from '../../format/checksum.js';
import { lookup } from '../../format/gvariant.js';
import { contentChecksumInput, type Commit } from '../../format/objects.js';
import { readHistory } from '../../repo/inspect.js';
import { formatDate, openRepo, verb, write } from '../common.js';
import { printDocument } from '../output.js';
import { arg, flag, JSON_OPTION } from '../options.js';

/** One commit as `ostree log` and `ostree show` print it. */
export function renderCommit(checksum: string, c: Commit): string {
  const lines = [`commit ${checksum}`];
  if (c.parent) lines.push(`Parent:  ${c.parent}`);
  lines.push(`ContentChecksum:  ${sha256Hex(contentChecksumInput(c))}`);
  lines.push(`Date:  ${formatDate(c.timestamp)}`);
  const version = lookup(c.metadata, 'version', 's');
  if (typeof version === 'string') lines.push(`Version: ${version}`);
  if (c.subject) {
    lines.push('');
    for (const l of c.subject.split('\n')) lines.push(`    ${l}`);
  } else {
    lines.push('(no subject)');
  }
  if (c.body) {
    lines.push('');
    for (const l of c.body.split('\n')) lines.push(`    ${l}`);
  }
  return lines.join('\n') + '\n\n';
}

export function commitDocument(checksum: string, c: Commit): Record<string, unknown> {
  return {
    checksum,
    parent: c.parent,
    contentChecksum: sha256Hex(contentChecksumInput(c)),
    timestamp: Number(c.timestamp),
    date: new Date(Number(c.timestamp) * 1000).toISOString(),
    subject: c.subject,
    body: c.body,
    version: lookup(c.metadata, 'version', 's') ?? null,
    rootTree: c.rootTree,
    rootMeta: c.rootMeta,
    metadataKeys: c.metadata.map(([k]) => k),
  };
}

export default verb({
  positionals: { ref: arg('Ref or commit to start from') },
  options: {
    raw: flag('Show raw variant data (as --json here)'),
    json: JSON_OPTION,
  },
  async run(o) {
    const repo = await openRepo(o);
    const { entries, truncated } = await readHistory(repo, o.ref);
    if (o.json || o.raw) return printDocument('CommitLog', { commits: entries.map((e) => commitDocument(e.checksum, e.commit)), truncated });
    for (const e of entries) write(renderCommit(e.checksum, e.commit));
    if (truncated) write('<< History beyond this commit not fetched >>\n');
  },
});

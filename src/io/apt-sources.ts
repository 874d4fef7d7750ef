/**
 * The Debian mirror this machine's apt uses, read from its sources
 * (sources.list, and sources.list.d/*.list and *.sources in deb822 form), so
 * that nothing names a mirror host: the first `deb` URI of http(s) or file.
 */
import * as path from 'node:path';
import { fsp, isErrno } from './fs.js';

export const APT_SOURCES_DIR = '/etc/apt';

/** The mirror for `suite`: the first source carrying it, else the first source. */
export async function aptMirrorFor(suite: string, aptDir = APT_SOURCES_DIR): Promise<string | null> {
  const all = await aptMirrors(aptDir);
  return (all.find((s) => s.suites.includes(suite)) ?? all[0])?.uri ?? null;
}

/** Every `deb` URI in the apt sources under `aptDir`, in the order apt reads them. */
export interface AptSource {
  uri: string;
  suites: string[];
}

export async function aptMirrors(aptDir = APT_SOURCES_DIR): Promise<AptSource[]> {
  const out: AptSource[] = [];
  const read = async (f: string): Promise<string | null> => fsp.readFile(f, 'utf8').catch((e) => {
    if (isErrno(e, 'ENOENT', 'ENOTDIR', 'EACCES')) return null;
    throw e;
  });
  const list = await read(path.join(aptDir, 'sources.list'));
  if (list) out.push(...parseOneLine(list));
  const dir = path.join(aptDir, 'sources.list.d');
  const names = (await fsp.readdir(dir).catch(() => [] as string[])).sort();
  for (const n of names) {
    const text = await read(path.join(dir, n));
    if (!text) continue;
    if (n.endsWith('.list')) out.push(...parseOneLine(text));
    else if (n.endsWith('.sources')) out.push(...parseDeb822(text));
  }
  return out.filter((u) => /^(https?|file):/.test(u.uri));
}

/** `deb [options] URI SUITE COMPONENTS...` lines. */
export function parseOneLine(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m) out.push({ uri: m[1], suites: [m[2]] });
  }
  return out;
}

/** deb822 stanzas: `Types: deb` with `URIs: ...` (Enabled: no skipped). */
export function parseDeb822(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) fields.set(m[1].toLowerCase(), m[2].trim());
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    const suites = (fields.get('suites') ?? '').split(/\s+/).filter(Boolean);
    for (const uri of (fields.get('uris') ?? '').split(/\s+/).filter(Boolean)) out.push({ uri, suites });
  }
  return out;
}

/**
 * What commands print on stdout. Every JSON document carries `apiVersion` and
 * `kind`, so a program reading it knows what it holds; fields are only ever
 * added within one apiVersion.
 */
export const API_VERSION = 'ostree-ts/v1';

export type Document<T> = { apiVersion: typeof API_VERSION; kind: string } & Omit<T, 'apiVersion' | 'kind'>;

/** `body` as a document of `kind` (a body that already names both keeps them, as the same values). */
export function document<T extends object>(kind: string, body: T): Document<T> {
  const { apiVersion: _v, kind: _k, ...rest } = body as T & { apiVersion?: unknown; kind?: unknown };
  return { apiVersion: API_VERSION, kind, ...rest } as Document<T>;
}

/** Print `body` as a document of `kind` on stdout. */
export function printDocument(kind: string, body: object): void {
  process.stdout.write(`${JSON.stringify(document(kind, body), null, 2)}\n`);
}

export function write(s: string): void {
  process.stdout.write(s);
}

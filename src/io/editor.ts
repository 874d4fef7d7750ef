/**
 * Running the user's text editor on a file, as `ostree commit --editor`
 * does: OSTREE_EDITOR, VISUAL, EDITOR or vi, through the shell, on the
 * terminal. Environment is passed in by the caller (read once by the CLI).
 */
import { createRequire } from 'node:module';
import { Codes, OstreeTsError } from '../errors/index.js';

const requireHere = createRequire(import.meta.url);

export function editorCommand(env: Record<string, string | undefined>): string {
  for (const k of ['OSTREE_EDITOR', 'VISUAL', 'EDITOR']) {
    const v = env[k];
    if (v !== undefined) return v;
  }
  return 'vi';
}

/** Run `editor FILE` with the terminal attached; fails when the editor does. */
export async function runEditor(editor: string, file: string): Promise<void> {
  const { spawn } = requireHere('node:child_process') as typeof import('node:child_process');
  const quoted = `'${file.replace(/'/g, `'\\''`)}'`;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', `${editor} ${quoted}`], { stdio: 'inherit' });
    child.on('error', (e) => reject(new OstreeTsError(Codes.IO, `Cannot run the editor '${editor}': ${e.message}. Set EDITOR to a working editor.`, { editor }, { cause: e })));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new OstreeTsError(Codes.IO, `The editor '${editor}' failed (${signal ?? `exit status ${code}`}); nothing was committed.`, { editor, code, signal }));
    });
  });
}

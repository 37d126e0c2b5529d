/**
 * Builds the package's dist/ from src/: tsc emits ESM JavaScript, declarations and source maps;
 * then the declarations' relative imports are rewritten from ./x.ts to ./x.js, which tsc does for
 * JavaScript (rewriteRelativeImportExtensions) but leaves as written in .d.ts files, where a
 * consumer's tsc without allowImportingTsExtensions would reject them.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');

/** `from './a.ts'`, `import('./a.ts')`, `import './a.ts'`: relative specifiers only. */
const RELATIVE_TS = /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g;

export function rewriteDeclaration(text: string): string {
  return text.replace(RELATIVE_TS, (_, lead: string, quote: string, path: string) => `${lead}${quote}${path}.js${quote}`);
}

function* files(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

function build(): void {
  rmSync(DIST, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  } catch {
    process.stderr.write('build:lib: tsc failed (its errors are above)\n');
    process.exit(1);
  }
  let declarations = 0;
  for (const file of files(DIST)) {
    if (!file.endsWith('.d.ts')) continue;
    const text = readFileSync(file, 'utf8');
    const rewritten = rewriteDeclaration(text);
    if (rewritten !== text) writeFileSync(file, rewritten);
    declarations++;
  }
  // What a consumer's Node would trip on: a .ts specifier left in JavaScript or a declaration.
  const left = [...files(DIST)].filter((f) => /\.(js|d\.ts)$/.test(f) && new RegExp(RELATIVE_TS.source).test(readFileSync(f, 'utf8')));
  if (left.length > 0) throw new Error(`relative .ts imports left in ${left.join(', ')}`);
  process.stdout.write(`dist/: ${declarations} declaration files\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) build();

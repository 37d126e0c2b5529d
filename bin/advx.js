#!/usr/bin/env node
// The CLI, as compiled JavaScript: the package ships dist/ built (npm run build makes it in a checkout).
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('advx: the CLI is not built here (no dist/cli/main.js): run npm run build, or npm run advx -- <command> to run it from source\n');
  process.exit(2);
}
await import(main.href);

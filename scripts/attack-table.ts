/** `npm run docs:attacks`: rewrites the attack table in README.md from the registry's descriptors. */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../src/node/io.ts';
import { attackTableMarkdown } from '../src/report/attack-table.ts';

const path = new URL('../README.md', import.meta.url);
const text = readFileSync(path, 'utf8');
const block = `<!-- attack-table:start (written by \`npm run docs:attacks\` from the registry) -->\n${attackTableMarkdown()}\n<!-- attack-table:end -->`;
if (!/<!-- attack-table:start[\s\S]*?<!-- attack-table:end -->/.test(text)) throw new Error('README.md has no attack-table markers');
writeFileAtomic(path.pathname, text.replace(/<!-- attack-table:start[\s\S]*?<!-- attack-table:end -->/, block));

/** `npm run docs:attacks`: rewrites the attack table in README.md from the registry's descriptors. */
import { fileURLToPath } from 'node:url';
import { replaceSection } from '../bench/sections.ts';
import { attackTableMarkdown } from '../src/report/attack-table.ts';

replaceSection(fileURLToPath(new URL('../README.md', import.meta.url)), 'attack-table', attackTableMarkdown(), { note: '(written by `npm run docs:attacks` from the registry)' });

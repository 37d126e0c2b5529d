import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appendSection, findSection, markSection, readSection, replaceSection, replaceSectionIn } from '../../bench/sections.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

function tempDir(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'advx-sections-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('rewriting every section of README.md, RESULTS.md and BENCHMARKS.md with what it holds leaves each file byte for byte', () => {
  const { dir, done } = tempDir();
  try {
    let checked = 0;
    for (const name of ['README.md', 'RESULTS.md', 'BENCHMARKS.md']) {
      const original = readFileSync(join(root, name));
      const copy = join(dir, name);
      copyFileSync(join(root, name), copy);
      // Nested sections too (attacks:eot inside attacks): their scripts rebuild them the same way.
      const sections = [...new Set([...original.toString('utf8').matchAll(/<!-- ([^\s>]+):start/g)].map((m) => m[1]))];
      assert.ok(sections.length > 0, `${name} has no sections`);
      for (const section of sections) {
        const { markdown, note } = readSection(readFileSync(copy, 'utf8'), section)!;
        assert.equal(replaceSection(copy, section, markdown, { note }), true);
        assert.ok(readFileSync(copy).equals(original), `${name}: section ${section} changed the file`);
        checked++;
      }
    }
    assert.ok(checked >= 15, `only ${checked} sections checked`);
  } finally {
    done();
  }
});

test('markSection writes the markers as the scripts always did: one line each, the note in the start marker', () => {
  const lines = ['| a |', '| --- |', ''];
  assert.equal(markSection('bench', lines.join('\n'), '(written by `npm run bench`)'), ['<!-- bench:start (written by `npm run bench`) -->', ...lines, '<!-- bench:end -->'].join('\n'));
  assert.equal(markSection('gan-images', 'x'), '<!-- gan-images:start -->\nx\n<!-- gan-images:end -->');
  assert.equal(markSection('empty', ''), '<!-- empty:start -->\n<!-- empty:end -->');
  for (const markdown of ['x', 'x\n', '\nx\n\n', '']) assert.deepEqual(readSection(`a\n${markSection('s', markdown, '(n)')}\nb`, 's'), { markdown, note: '(n)' });
});

test('a section is replaced in place, its neighbours and nested sections kept; $ patterns stay literal', () => {
  const text = ['# T', '<!-- a:start (old note) -->', '<!-- a:x:start -->', 'old x', '<!-- a:x:end -->', '<!-- a:end -->', '<!-- ab:start -->', 'ab', '<!-- ab:end -->', ''].join('\n');
  assert.equal(findSection(text, 'a:x'), '<!-- a:x:start -->\nold x\n<!-- a:x:end -->');
  assert.equal(findSection(text, 'b'), undefined);
  const next = replaceSectionIn(text, 'a', "cost $& and $' and $$1", { note: '(new note)' });
  assert.equal(next, ['# T', '<!-- a:start (new note) -->', "cost $& and $' and $$1", '<!-- a:end -->', '<!-- ab:start -->', 'ab', '<!-- ab:end -->', ''].join('\n'));
});

test('missing markers: a clear error by default, or skip, or the caller\'s placement; a missing file needs newFile', () => {
  const { dir, done } = tempDir();
  try {
    const file = join(dir, 'R.md');
    writeFileSync(file, '# Results\n\nprose  \n\n');
    assert.throws(() => replaceSection(file, 'da', 'x'), (e: Error) => e.message.includes(file) && e.message.includes('"da"') && e.message.includes('<!-- da:start -->'));
    assert.equal(replaceSection(file, 'da', 'x', { ifMissing: 'skip' }), false);
    assert.equal(readFileSync(file, 'utf8'), '# Results\n\nprose  \n\n');
    assert.equal(replaceSection(file, 'da', 'x', { note: '(n)', ifMissing: appendSection('## DA') }), true);
    assert.equal(readFileSync(file, 'utf8'), '# Results\n\nprose\n\n## DA\n\n<!-- da:start (n) -->\nx\n<!-- da:end -->\n');
    // Now marked: replaced in place, nothing appended.
    replaceSection(file, 'da', 'y', { note: '(n)', ifMissing: appendSection('## DA') });
    assert.equal(readFileSync(file, 'utf8'), '# Results\n\nprose\n\n## DA\n\n<!-- da:start (n) -->\ny\n<!-- da:end -->\n');

    const fresh = join(dir, 'BENCHMARKS.md');
    assert.throws(() => replaceSection(fresh, 'bench', 'x'), /does not exist/);
    assert.equal(existsSync(fresh), false);
    replaceSection(fresh, 'bench', 'x', { newFile: '# Benchmarks\n', ifMissing: appendSection() });
    // What bench/run.ts wrote for a new file before it used this helper.
    assert.equal(readFileSync(fresh, 'utf8'), '# Benchmarks\n\n<!-- bench:start -->\nx\n<!-- bench:end -->\n');
  } finally {
    done();
  }
});

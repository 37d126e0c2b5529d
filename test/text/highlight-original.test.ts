/** The "before" of a text attack's before → after: the original with removed and changed words marked, HTML-escaped. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EditableText } from '../../src/text/edit.ts';
import { highlightHtml, originalHtml } from '../../src/text/highlight.ts';

test('originalHtml marks deleted and replaced words of the original, not insertions; escapes; highlightHtml marks the new words', () => {
  const src = 'Win <big> cash & prizes now';
  const doc = EditableText.of(src).replace(0, 'W1n', 'typo').delete(6).insert(7, 'free').replace(4, 'money', 'substitute').replace(4, 'mon3y', 'typo');
  assert.equal(
    originalHtml(doc.source, doc.edits),
    '<div class="adv-text"><mark class="typo" title="became: W1n">Win</mark> &lt;big&gt; <mark class="substitute" title="became: mon3y">cash</mark> &amp; <del title="deleted">prizes</del> now</div>',
  );
  const after = highlightHtml(doc.segments());
  for (const piece of ['<mark class="typo" title="was: Win">W1n</mark>', '<ins title="inserted">free</ins>', '<mark class="substitute" title="was: cash">mon3y</mark>', '&lt;big&gt;']) assert.ok(after.includes(piece), piece);
  assert.equal(originalHtml('a < b', []), '<div class="adv-text">a &lt; b</div>');
  // A word edited back to itself is not marked.
  const back = EditableText.of('one two').replace(1, 'tw0', 'typo').replace(1, 'two', 'typo');
  assert.equal(originalHtml(back.source, back.edits), '<div class="adv-text">one two</div>');
});

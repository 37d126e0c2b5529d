/** Tokenizers, vocabularies, e-mail text extraction, edits and highlighting: no model needed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdvxError } from '../../src/core/errors.ts';
import { decodeBytes, htmlToText, messageText } from '../../src/text/email.ts';
import { charUnits, tokenize, wordUnits } from '../../src/text/tokenize.ts';
import { TextCodec, Vocab } from '../../src/text/vocab.ts';
import { EditableText } from '../../src/text/edit.ts';
import { highlightAnsi, highlightHtml } from '../../src/text/highlight.ts';
import { typos } from '../../src/text/attacks/types.ts';
import { Rng } from '../../src/core/rng.ts';

test('word tokens: lowercase words, numbers and single punctuation marks, with spans', () => {
  assert.deepEqual(tokenize("FREE money!!! Don't wait: 100% off"), ['free', 'money', '!', '!', '!', "don't", 'wait', ':', '100', '%', 'off']);
  const text = 'Hi  there,\nyou';
  for (const u of wordUnits(text)) assert.equal(text.slice(u.start, u.end).toLowerCase(), u.token);
  assert.deepEqual(charUnits('a\tB').map((u) => u.token), ['a', ' ', 'B']);
});

test('vocabulary: most frequent first, ties alphabetical, <pad> and <unk> first; codec round trip', () => {
  const vocab = Vocab.build([tokenize('b a b c'), tokenize('a b d')], 5, 1);
  assert.deepEqual(vocab.tokens, ['<pad>', '<unk>', 'b', 'a', 'c']);
  assert.equal(vocab.id('zzz'), 1);
  const codec = new TextCodec('word', vocab, 6);
  const e = codec.encode('B a c');
  assert.deepEqual(Array.from(e.ids), [2, 3, 4, 0, 0, 0]);
  assert.equal(codec.decode(e.ids), 'b a c');
  assert.equal(e.warning, undefined);
  const again = TextCodec.fromJSON(JSON.parse(JSON.stringify(codec.toJSON())));
  assert.deepEqual(Array.from(again.encode('B a c').ids), Array.from(e.ids));
  const chars = new TextCodec('char', Vocab.ascii(), 8);
  assert.equal(chars.decode(chars.encode('Hi there').ids), 'Hi there');
  assert.equal(chars.decode(chars.encode('né').ids), 'n<unk>');
  assert.throws(() => TextCodec.fromJSON({ level: 'byte' }), AdvxError);
});

test('a text longer than the window is cut with a warning, never an error; empty text is an error', () => {
  const codec = new TextCodec('word', Vocab.build([['a']], 3, 1), 4);
  const e = codec.encode('a a a a a a a');
  assert.equal(e.ids.length, 4);
  assert.equal(e.length, 7);
  assert.match(e.warning!, /7 tokens cut to the model's window of 4/);
  assert.throws(() => codec.encode(''), (err: Error) => err instanceof AdvxError && /empty/.test(err.message));
  assert.throws(() => codec.encode(' \n\t '), (err: Error) => err instanceof AdvxError && /empty/.test(err.message));
});

test('non-UTF-8 bytes decode as Windows-1252, valid UTF-8 as UTF-8, never an error', () => {
  assert.equal(decodeBytes(Uint8Array.from([0x63, 0x61, 0x66, 0xe9])), 'café');
  assert.equal(decodeBytes(new TextEncoder().encode('café ✓')), 'café ✓');
  assert.equal(decodeBytes(Uint8Array.from([0x93, 0x68, 0x69, 0x94, 0xff])), '\u201chi\u201dÿ');
});

test('e-mail text: the Subject and the decoded body, headers and HTML tags dropped', () => {
  const raw = [
    'From: a@b.c',
    'Received: from relay.example (1.2.3.4)',
    'Subject: =?iso-8859-1?Q?Caf=E9_offer?=',
    'Content-Type: multipart/alternative; boundary="XX"',
    '',
    '--XX',
    'Content-Type: text/html; charset=iso-8859-1',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    '<html><style>p{}</style><p>Buy <b>now</b> &amp; save=',
    ' 50%</p></html>',
    '--XX--',
  ].join('\r\n');
  assert.equal(messageText(raw), 'Café offer\n\nBuy now & save 50%');
  const b64 = ['Subject: hi', 'Content-Transfer-Encoding: base64', '', btoa('hello   world')].join('\n');
  assert.equal(messageText(b64), 'hi\n\nhello world');
  assert.equal(htmlToText('a&nbsp;b&#33;&#x21;<br>c'), 'a b!!\nc');
});

test('edits: replace, delete, insert render the text and list the edits; segments mark them', () => {
  let doc = EditableText.of('Buy cheap pills now!');
  doc = doc.replace(1, 'cheep', 'typo').delete(2).insert(0, 'Please');
  assert.equal(doc.text(), 'Please Buy cheep now!');
  assert.deepEqual(doc.edits.map((e) => [e.kind, e.position, e.before, e.after]), [
    ['typo', 1, 'cheap', 'cheep'],
    ['delete', 2, 'pills', ''],
    ['insert', 0, '', 'Please'],
  ]);
  const segs = doc.segments();
  assert.deepEqual(segs.map((s) => s.kind ?? '-'), ['insert', '-', 'typo', '-', 'delete', '-']);
  assert.equal(segs.map((s) => s.text).join(''), doc.text());
  const ansi = highlightAnsi(segs);
  assert.match(ansi, /\x1b\[1;35mcheep\x1b\[0m/);
  assert.match(ansi, /\x1b\[9;31mpills\x1b\[0m/);
  const html = highlightHtml(segs);
  assert.match(html, /<ins title="inserted">Please<\/ins>/);
  assert.match(html, /<del title="deleted">pills<\/del>/);
  assert.match(html, /<mark class="typo" title="was: cheap">cheep<\/mark>/);
  assert.equal(highlightHtml([{ text: '<b>' }]), '<div class="adv-text">&lt;b&gt;</div>');
  const { starts, ends } = doc.render();
  assert.equal(doc.text().slice(starts[1], ends[1]), 'cheep');
});

test('typos are seeded, differ from the word and keep its first letter when long enough', () => {
  const a = typos('discount', new Rng(3));
  assert.deepEqual(a, typos('discount', new Rng(3)));
  assert.ok(a.length >= 4);
  for (const t of a) {
    assert.notEqual(t, 'discount');
    assert.equal(t[0], 'd');
  }
});

/**
 * A text under edit: the source's word tokens (src/text/tokenize.ts) as slots that attacks
 * replace, delete or insert before, with everything between tokens (spaces, line breaks) kept.
 * Immutable: each edit returns a new EditableText, so a beam search can hold many. The edit list
 * and the segments (for highlighting) say exactly what changed. Isomorphic.
 */
import { AdvxError } from '../core/errors.ts';
import { wordUnits, type Unit } from './tokenize.ts';

export type EditKind = 'delete' | 'insert' | 'substitute' | 'typo' | 'flip';

export interface TextEdit {
  kind: EditKind;
  /** Index of the token in the original text (insert: the new word goes before it; = token count: at the end). */
  position: number;
  /** Characters of the original text the edit touches: [start, end) (insert: start = end). */
  start: number;
  end: number;
  before: string;
  after: string;
}

/** A piece of the adversarial text: unchanged, or the result of an edit (`before`: what it replaced). */
export interface Segment {
  text: string;
  kind?: EditKind;
  before?: string;
}

export interface Rendered {
  text: string;
  /** Per token: its [start, end) in `text` (start = end when deleted). */
  starts: number[];
  ends: number[];
}

export class EditableText {
  private constructor(
    readonly source: string,
    readonly spans: readonly Unit[],
    private readonly current: readonly string[],
    private readonly kinds: readonly (EditKind | undefined)[],
    private readonly inserted: readonly (readonly string[])[],
    readonly edits: readonly TextEdit[],
  ) {}

  static of(text: string): EditableText {
    const spans = wordUnits(text);
    return new EditableText(text, spans, spans.map((u) => text.slice(u.start, u.end)), spans.map(() => undefined), Array.from({ length: spans.length + 1 }, () => []), []);
  }

  get size(): number {
    return this.spans.length;
  }

  /** The token's text now ('' when deleted). */
  surface(i: number): string {
    return this.current[i];
  }

  /** The token's text in the source. */
  original(i: number): string {
    return this.source.slice(this.spans[i].start, this.spans[i].end);
  }

  isEdited(i: number): boolean {
    return this.kinds[i] !== undefined;
  }

  private check(i: number, max = this.size - 1): void {
    if (!(Number.isInteger(i) && i >= 0 && i <= max)) throw new AdvxError(`token ${i} is out of range (the text has ${this.size} tokens)`);
  }

  /** The token `i` becomes `text` (a typo, a synonym, a flipped character); '' deletes it. */
  replace(i: number, text: string, kind: Exclude<EditKind, 'insert'>): EditableText {
    this.check(i);
    const current = [...this.current];
    const kinds = [...this.kinds];
    const edit: TextEdit = { kind: text === '' ? 'delete' : kind, position: i, start: this.spans[i].start, end: this.spans[i].end, before: current[i], after: text };
    current[i] = text;
    kinds[i] = kinds[i] ?? edit.kind;
    if (text === '') kinds[i] = 'delete';
    return new EditableText(this.source, this.spans, current, kinds, this.inserted, [...this.edits, edit]);
  }

  delete(i: number): EditableText {
    return this.replace(i, '', 'delete');
  }

  /** Inserts `word` (with a space) before token `i` (i = size: at the end). */
  insert(i: number, word: string): EditableText {
    this.check(i, this.size);
    const inserted = this.inserted.map((list, k) => (k === i ? [...list, word] : list));
    const at = i < this.size ? this.spans[i].start : this.source.length;
    const edit: TextEdit = { kind: 'insert', position: i, start: at, end: at, before: '', after: word };
    return new EditableText(this.source, this.spans, this.current, this.kinds, inserted, [...this.edits, edit]);
  }

  /** The text now, and where each token sits in it. */
  render(): Rendered {
    return this.walk(() => undefined);
  }

  text(): string {
    return this.render().text;
  }

  /** The text now as pieces, the edited ones marked, for highlighting. */
  segments(): Segment[] {
    const out: Segment[] = [];
    this.walk((s) => {
      const last = out.at(-1);
      if (!s.kind && last && !last.kind) last.text += s.text;
      else if (s.text !== '' || s.kind) out.push(s);
    });
    return out;
  }

  private walk(emit: (s: Segment) => void): Rendered {
    let text = '';
    const starts: number[] = [];
    const ends: number[] = [];
    let from = 0;
    const put = (s: Segment) => {
      text += s.text;
      emit(s);
    };
    for (let i = 0; i <= this.size; i++) {
      const at = i < this.size ? this.spans[i].start : this.source.length;
      let gap = this.source.slice(from, at);
      // A deleted token leaves its two neighbouring gaps; keep one space between the words around it.
      if (i > 0 && this.current[i - 1] === '' && /\s$/.test(text) && /^ /.test(gap)) gap = gap.slice(1);
      put({ text: gap });
      for (const w of this.inserted[i]) {
        put({ text: w, kind: 'insert' });
        put({ text: ' ' });
      }
      if (i === this.size) break;
      starts.push(text.length);
      const kind = this.kinds[i];
      put(kind ? { text: this.current[i], kind, before: this.original(i) } : { text: this.current[i] });
      ends.push(text.length);
      from = this.spans[i].end;
    }
    return { text, starts, ends };
  }
}

/**
 * Vocabularies and the codec that turns texts into fixed-length id sequences. Id 0 is <pad>
 * (after the text), id 1 is <unk> (a unit the vocabulary lacks). Isomorphic.
 */
import { AdvxError } from '../core/errors.ts';
import { checkNotEmpty, units, type TextLevel, type Unit } from './tokenize.ts';

export const PAD = '<pad>';
export const UNK = '<unk>';

export class Vocab {
  readonly tokens: readonly string[];
  private readonly index: Map<string, number>;

  constructor(tokens: readonly string[]) {
    if (tokens[0] !== PAD || tokens[1] !== UNK) throw new AdvxError(`a vocabulary must start with ${PAD} and ${UNK}, got ${JSON.stringify(tokens.slice(0, 2))}`);
    this.tokens = tokens;
    this.index = new Map(tokens.map((t, i) => [t, i]));
    if (this.index.size !== tokens.length) throw new AdvxError('the vocabulary has duplicate tokens');
  }

  get size(): number {
    return this.tokens.length;
  }

  id(token: string): number {
    return this.index.get(token) ?? 1;
  }

  has(token: string): boolean {
    return this.index.has(token);
  }

  /**
   * The `maxSize` - 2 most frequent tokens of `texts` seen at least `minCount` times (ties broken
   * alphabetically, so the same data gives the same vocabulary), after <pad> and <unk>.
   */
  static build(tokenLists: Iterable<string[]>, maxSize: number, minCount = 2): Vocab {
    if (!(Number.isInteger(maxSize) && maxSize >= 3)) throw new AdvxError(`a vocabulary needs room for at least one token besides ${PAD} and ${UNK}, got size ${maxSize}`);
    const counts = new Map<string, number>();
    for (const list of tokenLists) for (const t of list) counts.set(t, (counts.get(t) ?? 0) + 1);
    const ranked = [...counts].filter(([t, n]) => n >= minCount && t !== PAD && t !== UNK).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    return new Vocab([PAD, UNK, ...ranked.slice(0, maxSize - 2).map(([t]) => t)]);
  }

  /** The character vocabulary: printable ASCII (space to ~). Other characters read as <unk>. */
  static ascii(): Vocab {
    return new Vocab([PAD, UNK, ...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))]);
  }
}

/** An encoded text: `window` ids, how many units it had, and a warning when it was cut. */
export interface Encoded {
  ids: Int32Array;
  /** Units of the whole text (may exceed the window). */
  length: number;
  units: Unit[];
  warning?: string;
}

/** Texts to ids for one model: its level (word or char), vocabulary and window length. */
export class TextCodec {
  constructor(
    readonly level: TextLevel,
    readonly vocab: Vocab,
    readonly window: number,
  ) {
    if (!(Number.isInteger(window) && window > 0)) throw new AdvxError(`the window must be a positive integer, got ${window}`);
  }

  /** Ids of the first `window` units, padded with 0. Empty text is an error; a long one is cut with a warning. */
  encode(text: string): Encoded {
    checkNotEmpty(text);
    const u = units(text, this.level);
    const ids = new Int32Array(this.window);
    const n = Math.min(u.length, this.window);
    for (let i = 0; i < n; i++) ids[i] = this.vocab.id(u[i].token);
    const what = this.level === 'word' ? 'tokens' : 'characters';
    const warning = u.length > this.window ? `text of ${u.length} ${what} cut to the model's window of ${this.window} (the rest is not read)` : undefined;
    return { ids, length: u.length, units: u, warning };
  }

  /** Ids back to text (words joined by spaces; characters as they are), padding dropped. */
  decode(ids: ArrayLike<number>): string {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) if (ids[i] !== 0) out.push(this.vocab.tokens[ids[i]] ?? UNK);
    return out.join(this.level === 'word' ? ' ' : '');
  }

  toJSON(): CodecJson {
    return { level: this.level, window: this.window, vocab: [...this.vocab.tokens] };
  }

  static fromJSON(json: unknown): TextCodec {
    const j = json as Partial<CodecJson> | null;
    if (!j || (j.level !== 'word' && j.level !== 'char') || !Array.isArray(j.vocab) || !j.vocab.every((t) => typeof t === 'string') || typeof j.window !== 'number') {
      throw new AdvxError('not a text codec: expected {"level": "word"|"char", "window": n, "vocab": [...]}');
    }
    return new TextCodec(j.level, new Vocab(j.vocab), j.window);
  }
}

export interface CodecJson {
  level: TextLevel;
  window: number;
  vocab: string[];
}

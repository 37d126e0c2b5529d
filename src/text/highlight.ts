/**
 * The adversarial text with its edits made visible: ANSI colours for a terminal, <mark>/<del>/
 * <ins> for HTML. Colours: deleted words red struck through, inserted green, substituted (synonym,
 * word flip) yellow, typos and character flips magenta; hovering an HTML edit shows the original.
 * Isomorphic.
 */
import type { EditKind, Segment, TextEdit } from './edit.ts';

const ANSI: Record<EditKind, string> = { delete: '\x1b[9;31m', insert: '\x1b[1;32m', substitute: '\x1b[1;33m', typo: '\x1b[1;35m', flip: '\x1b[1;35m' };
const RESET = '\x1b[0m';

/** Terminal rendering: edited pieces coloured, deleted words shown struck through. */
export function highlightAnsi(segments: Segment[]): string {
  return segments
    .map((s) => {
      if (!s.kind) return s.text;
      const shown = s.kind === 'delete' ? (s.before ?? '') : s.text;
      return `${ANSI[s.kind]}${shown}${RESET}`;
    })
    .join('');
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Class names the HTML uses (style them as you like; `HIGHLIGHT_CSS` is a default). */
export const HIGHLIGHT_CSS = `.adv-text{white-space:pre-wrap;font-family:ui-monospace,monospace}
.adv-text del{color:#b00;text-decoration:line-through}.adv-text ins{color:#070;text-decoration:none;font-weight:bold}
.adv-text mark.substitute{background:#ffe58a}.adv-text mark.typo,.adv-text mark.flip{background:#f4c2f4}`;

/** HTML rendering: <del> for deletions, <ins> for insertions, <mark class="kind" title="was: …"> for replacements. */
export function highlightHtml(segments: Segment[]): string {
  const body = segments
    .map((s) => {
      if (!s.kind) return escapeHtml(s.text);
      if (s.kind === 'delete') return `<del title="deleted">${escapeHtml(s.before ?? '')}</del>`;
      if (s.kind === 'insert') return `<ins title="inserted">${escapeHtml(s.text)}</ins>`;
      return `<mark class="${escapeHtml(s.kind)}" title="was: ${escapeHtml(s.before ?? '')}">${escapeHtml(s.text)}</mark>`;
    })
    .join('');
  return `<div class="adv-text">${body}</div>`;
}

/**
 * HTML rendering of the original text with what the edits removed or changed marked (the
 * "before" of before → after): <del> for a word the attack deleted, <mark class="kind"
 * title="became: …"> for one it replaced (its final form in the title). Insertions touch no
 * original word and are left to `highlightHtml`. A word edited back to itself is not marked.
 */
export function originalHtml(original: string, edits: readonly TextEdit[]): string {
  const touched = new Map<number, { end: number; kind: EditKind; after: string }>();
  for (const e of edits) {
    if (e.kind === 'insert') continue;
    const prev = touched.get(e.start);
    // As EditableText keeps it: the first kind of edit names the token, unless it ends deleted.
    touched.set(e.start, { end: e.end, kind: e.after === '' ? 'delete' : (prev && prev.kind !== 'delete' ? prev.kind : e.kind), after: e.after });
  }
  let body = '';
  let from = 0;
  for (const start of [...touched.keys()].sort((a, b) => a - b)) {
    const t = touched.get(start)!;
    const word = original.slice(start, t.end);
    if (start < from || t.after === word) continue;
    body += escapeHtml(original.slice(from, start));
    body += t.kind === 'delete' ? `<del title="deleted">${escapeHtml(word)}</del>` : `<mark class="${escapeHtml(t.kind)}" title="became: ${escapeHtml(t.after)}">${escapeHtml(word)}</mark>`;
    from = t.end;
  }
  return `<div class="adv-text">${body}${escapeHtml(original.slice(from))}</div>`;
}

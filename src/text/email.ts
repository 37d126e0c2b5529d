/**
 * From a raw e-mail (RFC 822 headers + MIME body) to the text a reader sees: the Subject line
 * and the decoded text parts of the body, HTML reduced to its visible text.
 *
 * Why not the whole message: the other headers carry the corpus's collection artefacts (the ham
 * comes from mailing lists with List-Id headers and one relay chain, the spam from other relays,
 * at other dates, some with X-Spam-* headers), so a classifier can be right for reasons that have
 * nothing to do with the message, and a sender cannot edit the relays' headers anyway. The
 * threat model of text attacks is a sender editing what the reader reads, so that is what the
 * models see. Isomorphic: no Node API (TextDecoder and atob exist in browsers too).
 */

/** Bytes to a string: UTF-8 when the bytes are valid UTF-8, else Windows-1252 (never throws). */
export function decodeBytes(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Old mail is mostly Latin-1 / Windows-1252, where every byte is a character: no loss, no
    // error. Decoded here, since some runtimes' TextDecoder('windows-1252') is plain Latin-1.
    let out = '';
    for (let i = 0; i < bytes.length; i += 8192) {
      out += String.fromCharCode(...Array.from(bytes.subarray(i, i + 8192), (b) => (b >= 0x80 && b < 0xa0 ? CP1252[b - 0x80] : b)));
    }
    return out;
  }
}

/** Windows-1252's characters for bytes 0x80–0x9F (unassigned bytes keep their Latin-1 control code). */
const CP1252 = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];

function decodeCharset(bytes: Uint8Array, charset: string | undefined): string {
  if (charset) {
    try {
      const label = charset.toLowerCase();
      if (label !== 'utf-8' && label !== 'utf8' && label !== 'us-ascii') return new TextDecoder(label).decode(bytes);
    } catch {
      // unknown charset label: fall through to the guess
    }
  }
  return decodeBytes(bytes);
}

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

function quotedPrintable(s: string, inHeader = false): Uint8Array {
  if (inHeader) s = s.replace(/_/g, ' ');
  const bytes: number[] = [];
  const text = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      const code = text.charCodeAt(i);
      if (code < 256) bytes.push(code);
      else for (const b of new TextEncoder().encode(c)) bytes.push(b);
    }
  }
  return Uint8Array.from(bytes);
}

function base64(s: string): Uint8Array {
  let clean = s.replace(/[^A-Za-z0-9+/]/g, '');
  if (clean.length % 4 === 1) clean = clean.slice(0, -1);
  try {
    return latin1Bytes(atob(clean + '='.repeat((4 - (clean.length % 4)) % 4)));
  } catch {
    return new Uint8Array(0);
  }
}

/** RFC 2047 encoded words in a header: =?charset?B|Q?text?= */
function decodeHeader(value: string): string {
  return value.replace(/=\?([^?]+)\?([bqBQ])\?([^?]*)\?=/g, (_m, charset: string, enc: string, text: string) =>
    decodeCharset(enc.toUpperCase() === 'B' ? base64(text) : quotedPrintable(text, true), charset),
  );
}

interface Part {
  headers: Map<string, string>;
  body: string;
}

function splitPart(raw: string): Part {
  const cut = raw.search(/\n\s*\n/);
  const head = cut < 0 ? raw : raw.slice(0, cut);
  const body = cut < 0 ? '' : raw.slice(cut).replace(/^\n\s*\n/, '');
  const headers = new Map<string, string>();
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const m = /^([!-9;-~]+):\s*(.*)$/.exec(line);
    if (m && !headers.has(m[1].toLowerCase())) headers.set(m[1].toLowerCase(), m[2]);
  }
  return { headers, body };
}

function param(header: string | undefined, name: string): string | undefined {
  const m = new RegExp(`${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i').exec(header ?? '');
  return m ? (m[1] ?? m[2]) : undefined;
}

const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", copy: '©', reg: '®' };

/** The visible text of an HTML fragment (no scripts, styles, comments or tags). */
export function htmlToText(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style|head)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<(br|p|div|tr|li|h[1-6]|table|title)\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
      if (e[0] === '#') {
        const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : ' ';
      }
      return ENTITIES[e.toLowerCase()] ?? m;
    });
}

/** Text of a MIME part: text/plain and text/html decoded; multipart walked; attachments skipped. */
function partText(part: Part, depth: number): string {
  const type = (part.headers.get('content-type') ?? 'text/plain').toLowerCase();
  if (type.startsWith('multipart/') && depth < 8) {
    const boundary = param(part.headers.get('content-type'), 'boundary');
    if (!boundary) return part.body;
    const delimiter = `--${boundary}`;
    const pieces = part.body.split(delimiter).slice(1);
    const parts = pieces.filter((p) => !p.startsWith('--')).map((p) => splitPart(p.replace(/^[^\n]*\n/, '')));
    if (type.startsWith('multipart/alternative')) {
      // The same message twice: read the plain version when there is one.
      const plain = parts.find((p) => (p.headers.get('content-type') ?? 'text/plain').toLowerCase().startsWith('text/plain'));
      return partText(plain ?? parts[parts.length - 1] ?? { headers: new Map(), body: '' }, depth + 1);
    }
    return parts.map((p) => partText(p, depth + 1)).filter((t) => t).join('\n\n');
  }
  if (!type.startsWith('text/')) return '';
  const encoding = (part.headers.get('content-transfer-encoding') ?? '').toLowerCase().trim();
  const charset = param(part.headers.get('content-type'), 'charset');
  let text = part.body;
  if (encoding === 'quoted-printable') text = decodeCharset(quotedPrintable(text), charset);
  else if (encoding === 'base64') text = decodeCharset(base64(text), charset);
  return type.startsWith('text/html') || /^\s*<(!doctype|html|body|table|div|p|font)\b/i.test(text) ? htmlToText(text) : text;
}

/** Collapses runs of spaces and tabs, trims lines, keeps at most one blank line in a row. */
export function normalizeWhitespace(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/[\t\f\v \u00a0]+/g, ' ')
    .replace(/ ?\n ?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** "Subject line\n\nbody text" of a raw message, whitespace normalised. */
export function messageText(raw: string): string {
  const message = splitPart(raw.replace(/\r\n?/g, '\n'));
  const subject = decodeHeader(message.headers.get('subject') ?? '').trim();
  const body = partText(message, 0);
  return normalizeWhitespace(subject ? `${subject}\n\n${body}` : body);
}

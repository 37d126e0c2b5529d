/** A self-contained HTML report (no scripts, no network): headings, tables and images. */

export type Block =
  | { kind: 'heading'; text: string }
  | { kind: 'text'; text: string }
  | { kind: 'table'; columns: string[]; rows: Array<Array<string | number>> }
  | { kind: 'image'; src: string; caption: string }
  /** Small pictures side by side (each enlarged, pixels kept square), one caption under them: an adversarial triplet. */
  | { kind: 'figures'; items: Array<{ images: Array<{ src: string; alt: string; note?: string }>; caption: string }> };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

function cell(v: string | number): string {
  return escapeHtml(typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : v);
}

export function renderReport(title: string, blocks: Block[]): string {
  const body = blocks
    .map((b) => {
      switch (b.kind) {
        case 'heading':
          return `<h2>${escapeHtml(b.text)}</h2>`;
        case 'text':
          return `<p>${escapeHtml(b.text)}</p>`;
        case 'table':
          return `<table><thead><tr>${b.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${b.rows
            .map((r) => `<tr>${r.map((v) => `<td>${cell(v)}</td>`).join('')}</tr>`)
            .join('')}</tbody></table>`;
        case 'image':
          return `<figure><img src="${escapeHtml(b.src)}" alt="${escapeHtml(b.caption)}"><figcaption>${escapeHtml(b.caption)}</figcaption></figure>`;
        case 'figures':
          return `<div class="figures">${b.items
            .map((f) => `<figure class="triplet">${f.images.map((im) => `<span><img src="${escapeHtml(im.src)}" alt="${escapeHtml(im.alt)}">${im.note ? `<small>${escapeHtml(im.note)}</small>` : ''}</span>`).join('')}<figcaption>${escapeHtml(f.caption)}</figcaption></figure>`)
            .join('')}</div>`;
      }
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
th{background:#f4f4f4}figure{display:inline-block;margin:1em}img{image-rendering:pixelated;width:100%;max-width:720px}
.triplet{margin:.5em;text-align:center}.triplet span{display:inline-block;margin:0 2px;vertical-align:top}.triplet img{width:84px}.triplet small{display:block;color:#555}
</style></head><body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}

/** Small DOM helpers and the page-wide error banner. */

export function $<T extends HTMLElement = HTMLElement>(selector: string, root: ParentNode = document): T {
  const el = root.querySelector<T>(selector);
  if (!el) throw new Error(`missing element ${selector}`);
  return el;
}

/** Creates an element with attributes and children (strings become text nodes: never HTML). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: Array<Node | string | null | undefined>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

/** Shows a visible, dismissable error; the page stays usable. */
/** A list of named read-outs (term, then its live value element), styled as .da-metrics. */
export function metricList(attrs: Record<string, string>, entries: Array<[string, HTMLElement]>): HTMLDListElement {
  const cls = ['da-metrics', attrs.class].filter(Boolean).join(' ');
  return h('dl', { ...attrs, class: cls }, ...entries.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
}

export function showError(message: string): void {
  $('#error-text').textContent = message;
  $('#error').hidden = false;
}

export function clearError(): void {
  $('#error').hidden = true;
  $('#error-text').textContent = '';
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Yields to the browser so it can paint: the next animation frame, or 50 ms if frames are paused (hidden tab). */
export function nextFrame(): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 50);
    requestAnimationFrame(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export async function fetchJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { cache: 'no-store' });
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw new Error(`${url}: the server answered ${res.status} without JSON`);
  }
  if (!res.ok) throw new Error(`${url}: ${(body as { error?: string })?.error ?? res.statusText} (${res.status})`);
  return body as T;
}

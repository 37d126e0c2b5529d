/** The lab's entry point: four pages behind hash routes (#/explorer, #/da, #/gan, #/runs[/<run>]). */
import './style.css';
import { mountDa } from './da.ts';
import { mountDashboard } from './dashboard.ts';
import { mountExplorer } from './explorer.ts';
import { ganVisible, mountGan } from './gan.ts';
import { $, clearError, errorMessage, showError } from './ui.ts';

const status = $('#backend-status');
$('#error-close').addEventListener('click', clearError);

// Anything that escapes a handler still shows up on the page instead of only in the console.
window.addEventListener('error', (e) => showError(e.message || 'unexpected error'));
window.addEventListener('unhandledrejection', (e) => showError(errorMessage(e.reason)));

let explorer: Promise<void> | null = null;
let da: Promise<void> | null = null;
let gan: Promise<void> | null = null;
let dashboard: ReturnType<typeof mountDashboard> | null = null;

async function route(): Promise<void> {
  const hash = location.hash.replace(/^#\/?/, '');
  const [page, ...rest] = hash.split('/');
  const which = page === 'runs' || page === 'da' || page === 'gan' ? page : 'explorer';
  ganVisible($('#page-gan'), which === 'gan');
  for (const p of ['explorer', 'da', 'gan', 'runs']) {
    $(`#page-${p}`).hidden = p !== which;
    const nav = $(`#nav-${p}`);
    if (p === which) nav.setAttribute('aria-current', 'page');
    else nav.removeAttribute('aria-current');
  }
  if (which === 'explorer') {
    explorer ??= mountExplorer($('#page-explorer'), (s) => (status.textContent = s));
    await explorer;
  } else if (which === 'da') {
    da ??= mountDa($('#page-da'), (s) => (status.textContent = s));
    await da;
  } else if (which === 'gan') {
    gan ??= mountGan($('#page-gan'), (s) => (status.textContent = s));
    await gan;
  } else {
    if (!explorer && !da && !gan) status.textContent = '';
    dashboard ??= mountDashboard($('#page-runs'));
    const d = await dashboard;
    const name = rest.length ? decodeURIComponent(rest.join('/')) : null;
    await d.open(name);
  }
}

window.addEventListener('hashchange', () => void route().catch((e) => showError(errorMessage(e))));
void route().catch((e) => showError(errorMessage(e)));

/**
 * kpath's page: plain TypeScript compiled by tsc to ES modules the browser loads as they are (no
 * framework, no bundler, nothing fetched from outside /ui/). The path picks the view.
 */
import { showCluster, stopCluster } from './cluster.js';
import { h, replace } from './dom.js';
import { showTrace } from './trace.js';

const main = document.getElementById('main')!;
const status = document.getElementById('status')!;
const mode = document.getElementById('mode')!;

async function route(): Promise<void> {
  const view = location.pathname === '/ui/trace' ? 'trace' : 'cluster';
  for (const a of document.querySelectorAll<HTMLAnchorElement>('header nav a'))
    a.classList.toggle('active', a.dataset.view === view);
  try {
    if (view === 'trace') {
      stopCluster();
      status.textContent = '';
      await showTrace(main, mode);
    } else {
      await showCluster(main, status, mode);
    }
    document.body.dataset.ready = view;
  } catch (e) {
    replace(main, h('p', { class: 'error' }, (e as Error).message));
  }
}

document.querySelector('header nav')!.addEventListener('click', (ev) => {
  const a = (ev.target as Element).closest('a');
  if (!a) return;
  ev.preventDefault();
  history.pushState(null, '', a.getAttribute('href'));
  void route();
});
window.addEventListener('popstate', () => void route());
void route();

import { LiveCharts } from './charts.js';
import { renderChunkMap } from './chunk-map.js';
import { bytes, element, type LiveMessage, type Row, seconds } from './format.js';

const form = document.getElementById('settings') as HTMLFormElement;
const tokenInput = document.getElementById('token') as HTMLInputElement;
const statusInput = document.getElementById('status') as HTMLSelectElement;
const rows = document.getElementById('rows') as HTMLTableSectionElement;
const live = document.getElementById('live') as HTMLSpanElement;
const state = document.getElementById('state') as HTMLSpanElement;
const detail = document.getElementById('detail') as HTMLElement;
const charts = new LiveCharts(
  document.getElementById('chart-rate') as HTMLElement,
  document.getElementById('chart-states') as HTMLElement,
);
/** The chunk size of the upload whose map is open (from its progress). */
let openChunkSize = 0;
let ticking: ReturnType<typeof setInterval> | undefined;

/** The table's uploads (the status filter applied). */
const uploads = new Map<string, Row>();
/** Every upload the page knows of, whatever the filter, with when this page last heard of it: for the charts. */
const known = new Map<string, { row: Row; heardAt: number }>();
let source: EventSource | undefined;

tokenInput.value = new URLSearchParams(location.search).get('token') ?? localStorage.getItem('dashboardToken') ?? '';
form.addEventListener('submit', (e) => {
  e.preventDefault();
  connect();
});
if (tokenInput.value) connect();

/** Loads the newest uploads, then follows every change live (Server-Sent Events, from whichever instance). */
async function connect(): Promise<void> {
  const token = tokenInput.value.trim();
  localStorage.setItem('dashboardToken', token);
  source?.close();
  const status = statusInput.value;
  const res = await fetch(`/api/uploads?limit=100${status ? `&status=${status}` : ''}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!res.ok) {
    state.textContent =
      res.status === 401
        ? 'wrong token'
        : res.status === 404
          ? 'the list is off (DASHBOARD_TOKEN unset)'
          : `error ${res.status}`;
    return;
  }
  const listed = ((await res.json()) as { uploads: Row[] }).uploads;
  replace(listed);
  // The charts count every upload, not only those of the status shown.
  const everyStatus = status
    ? await fetch('/api/uploads?limit=100', { headers: { Authorization: `Bearer ${token}` } })
        .then((r) => (r.ok ? (r.json() as Promise<{ uploads: Row[] }>) : { uploads: [] }))
        .then(
          (all) => all.uploads,
          () => [],
        )
    : listed;
  known.clear();
  for (const row of everyStatus) known.set(row.id, { row, heardAt: 0 });
  source = new EventSource(`/api/uploads/events?token=${encodeURIComponent(token)}`);
  source.onopen = () => {
    live.classList.add('on');
    state.textContent = 'live';
  };
  source.onerror = () => {
    live.classList.remove('on');
    state.textContent = 'reconnecting…';
  };
  source.addEventListener('snapshot', (e) => {
    const snapshot = (JSON.parse((e as MessageEvent).data) as { uploads: Row[] }).uploads;
    for (const row of snapshot) if (!known.has(row.id)) known.set(row.id, { row, heardAt: 0 });
    if (!status) replace(snapshot);
  });
  for (const type of ['created', 'progress', 'completed', 'failed', 'terminated', 'expired']) {
    source.addEventListener(type, (e) => apply(JSON.parse((e as MessageEvent).data) as LiveMessage));
  }
  clearInterval(ticking);
  ticking = setInterval(tick, 1000); // a chart point a second; keeps "updated" ages and stalled speeds honest
  tick();
}

/** A second's sample for the charts: bytes stored per second by uploads active lately, and uploads per state. */
function tick(): void {
  const now = Date.now();
  let throughput = 0;
  const counts: Record<string, number> = {};
  for (const { row: u, heardAt } of known.values()) {
    counts[u.status] = (counts[u.status] ?? 0) + 1;
    // A speed this page last heard over 5 s ago is a stalled upload's: it stores nothing now. (This page's clock,
    // not the server's updatedAt: the two clocks may differ.)
    if (u.status === 'uploading' && now - heardAt < 5000) throughput += u.speedBytesPerSecond;
  }
  charts.add(now, { throughput, counts });
  render();
}

/** Opens one upload's chunk map (click or Enter on its row). */
async function openMap(id: string): Promise<void> {
  const res = await fetch(`/api/uploads/${id}/progress`, {
    headers: { Authorization: `Bearer ${tokenInput.value.trim()}` },
  });
  if (!res.ok) return;
  openChunkSize = ((await res.json()) as { chunkSize: number }).chunkSize;
  const row = uploads.get(id);
  if (row) renderChunkMap(detail, row, openChunkSize);
  detail.scrollIntoView({ block: 'nearest' });
}

function replace(list: Row[]): void {
  uploads.clear();
  for (const row of list) uploads.set(row.id, row);
  render();
}

function apply(message: LiveMessage): void {
  if (message.upload) known.set(message.id, { row: message.upload, heardAt: Date.now() });
  else known.delete(message.id);
  if (!message.upload) uploads.delete(message.id);
  else if (!statusInput.value || message.upload.status === statusInput.value) uploads.set(message.id, message.upload);
  else uploads.delete(message.id);
  const open = message.upload && detail.dataset.id === message.id && !detail.hidden;
  if (open && message.upload) renderChunkMap(detail, message.upload, openChunkSize);
  render();
}

function render(): void {
  const sorted = [...uploads.values()].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  // The rows are drawn anew every second: the one a keyboard user is on keeps the focus.
  const focused = (document.activeElement as HTMLElement | null)?.closest?.('tr[data-id]') as HTMLElement | null;
  rows.replaceChildren(
    ...(sorted.length === 0
      ? [element('tr', {}, element('td', { colSpan: 8, className: 'notice', textContent: 'No uploads yet.' }))]
      : sorted.map(row)),
  );
  if (focused?.dataset.id) rows.querySelector<HTMLElement>(`tr[data-id="${CSS.escape(focused.dataset.id)}"]`)?.focus();
}

function row(u: Row): HTMLTableRowElement {
  const bar = element('span');
  bar.style.width = `${u.percent ?? 0}%`;
  const tr = element(
    'tr',
    {},
    element('td', { textContent: u.filename ?? u.id }),
    element('td', {}, element('span', { className: `badge ${u.status}`, textContent: u.status })),
    element(
      'td',
      {},
      element('div', { className: 'bar' }, bar),
      element('span', { className: 'small', textContent: `${(u.percent ?? 0).toFixed(1)} %` }),
    ),
    element('td', { className: 'num wide', textContent: `${bytes(u.offset)} / ${bytes(u.size)}` }),
    element('td', {
      className: 'num',
      textContent: u.speedBytesPerSecond > 0 ? `${bytes(u.speedBytesPerSecond)}/s` : '—',
    }),
    element('td', { className: 'num', textContent: seconds(u.etaSeconds) }),
    element('td', {
      className: 'num wide',
      textContent: `${u.receivedChunks}/${u.totalChunks ?? '?'}${u.failedChunks ? ` (${u.failedChunks} failed)` : ''}`,
    }),
    element('td', { className: 'num wide', textContent: new Date(u.updatedAt).toLocaleTimeString() }),
  );
  tr.dataset.id = u.id;
  tr.dataset.status = u.status;
  // Its chunk map, by mouse or keyboard.
  tr.tabIndex = 0;
  tr.title = 'Show its chunk map';
  tr.addEventListener('click', () => openMap(u.id));
  tr.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      openMap(u.id);
    }
  });
  return tr;
}

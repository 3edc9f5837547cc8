import { Upload } from 'tus-js-client';
import { bytes, element, type LiveMessage, type Row, seconds } from './format.js';

/** The server's chunk grid for demo uploads: small enough to watch chunks arrive. */
const CHUNK_SIZE = 256 * 1024;

const list = document.getElementById('uploads') as HTMLUListElement;
const input = document.getElementById('file-input') as HTMLInputElement;
const drop = document.getElementById('drop') as HTMLLabelElement;

input.addEventListener('change', () => {
  for (const file of input.files ?? []) start(file);
  input.value = '';
});
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  for (const file of e.dataTransfer?.files ?? []) start(file);
});

/** One file: a tus upload, and a card showing what the server says of it. */
function start(file: File): void {
  const bar = element('span');
  const clientBar = element('span');
  const status = element('span', { className: 'badge uploading', textContent: 'starting' });
  const numbers = element('div', { className: 'meta', textContent: `0 of ${bytes(file.size)}` });
  const detail = element('div', { className: 'small chunks' });
  const missing = element('div', { className: 'small missing' });
  const pause = element('button', { type: 'button', textContent: 'Pause' });
  const retry = element('button', { type: 'button', textContent: 'Retry', hidden: true });
  const remove = element('button', { type: 'button', textContent: 'Remove' });
  const card = element(
    'li',
    { className: 'upload' },
    element('div', { className: 'top' }, element('span', { className: 'name', textContent: file.name }), status),
    element('div', { className: 'bar', title: 'stored on the server' }, bar),
    element('div', { className: 'bar thin', title: 'sent by this browser' }, clientBar),
    numbers,
    detail,
    missing,
    element('div', { className: 'actions' }, pause, retry, remove),
  );
  card.dataset.status = 'uploading';
  list.prepend(card);

  let events: EventSource | undefined;
  let paused = false;
  const upload = new Upload(file, {
    endpoint: '/files',
    chunkSize: 1024 * 1024,
    retryDelays: [0, 1000, 3000, 5000],
    metadata: { filename: file.name, filetype: file.type || 'application/octet-stream', chunkSize: String(CHUNK_SIZE) },
    onProgress: (sent, total) => {
      clientBar.style.width = `${total ? (100 * sent) / total : 100}%`;
    },
    onUploadUrlAvailable: () => {
      card.dataset.id = upload.url?.split('/').pop();
      events ??= watch(upload.url?.split('/').pop() as string);
    },
    onError: (error) => {
      card.dataset.status = 'error';
      status.className = 'badge error';
      status.textContent = 'error';
      detail.textContent = String(error.message).split('\n')[0] ?? 'failed';
      retry.hidden = false;
      pause.hidden = true;
    },
    onSuccess: () => {
      clientBar.style.width = '100%';
      pause.hidden = true;
    },
  });

  /** The server's own numbers, pushed as they change (Server-Sent Events). */
  function watch(id: string): EventSource {
    const source = new EventSource(`/api/uploads/${id}/events`);
    const show = (row: Row | null) => {
      if (!row) return;
      const done = row.percent ?? 0;
      bar.style.width = `${done}%`;
      card.dataset.status = row.status;
      status.className = `badge ${row.status}`;
      status.textContent = row.status === 'uploading' && paused ? 'paused' : row.status;
      numbers.textContent = `${bytes(row.offset)} of ${bytes(row.size)} stored · ${done.toFixed(1)} %`;
      const speed =
        row.speedBytesPerSecond > 0 ? ` · ${bytes(row.speedBytesPerSecond)}/s · ${seconds(row.etaSeconds)} left` : '';
      detail.textContent = `chunks ${row.receivedChunks}/${row.totalChunks ?? '?'} received · ${row.failedChunks} failed${speed}`;
      if (row.status === 'uploading' && (paused || row.failedChunks > 0)) showMissing(id);
      else missing.textContent = '';
    };
    for (const type of ['snapshot', 'created', 'progress', 'completed', 'failed']) {
      source.addEventListener(type, (e) => show((JSON.parse((e as MessageEvent).data) as LiveMessage).upload));
    }
    source.addEventListener('completed', () => source.close());
    return source;
  }

  async function showMissing(id: string): Promise<void> {
    const res = await fetch(`/api/uploads/${id}/missing`);
    if (!res.ok) return;
    const { missingRanges } = (await res.json()) as { missingRanges: Array<[number, number]> | null };
    missing.textContent = missingRanges?.length
      ? `missing chunks ${missingRanges.map(([a, b]) => (a === b ? a : `${a}–${b}`)).join(', ')}`
      : '';
  }

  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (paused) {
      upload.abort();
      status.textContent = 'paused';
      if (card.dataset.id) showMissing(card.dataset.id);
    } else upload.start();
  });
  retry.addEventListener('click', () => {
    retry.hidden = true;
    pause.hidden = false;
    detail.textContent = '';
    upload.start();
  });
  remove.addEventListener('click', async () => {
    events?.close();
    await upload.abort(true).catch(() => {});
    card.remove();
  });

  upload.findPreviousUploads().then((previous) => {
    const last = previous[0];
    if (last) upload.resumeFromPreviousUpload(last);
    upload.start();
  });
}

import { bytes, element, type Row, seconds } from './format.js';

/** At most this many cells: beyond it, each cell stands for several chunks. */
const MAX_CELLS = 1200;

/**
 * One upload's chunk map: a cell per chunk, received (all of its bytes stored), in progress (the chunk the
 * offset is in), or missing; with its speed, time left and failed attempts, as the server reports them.
 * Chunks are received in order (docs/api.md#missing-chunks), so the record says which are which.
 */
export function renderChunkMap(box: HTMLElement, row: Row, chunkSize: number): void {
  const total = row.totalChunks ?? Math.max(row.receivedChunks + 1, Math.ceil(row.offset / chunkSize));
  const per = Math.max(1, Math.ceil(total / MAX_CELLS));
  const cells: HTMLElement[] = [];
  for (let first = 0; first < total; first += per) {
    const last = Math.min(total, first + per) - 1;
    const state = last < row.receivedChunks ? 'got' : first * chunkSize < row.offset ? 'part' : 'missing';
    const cell = element('span', { className: `cell ${state}` });
    cell.title = per === 1 ? `chunk ${first}: ${state}` : `chunks ${first}–${last}: ${state}`;
    cells.push(cell);
  }
  const speed = row.status === 'uploading' && row.speedBytesPerSecond > 0;
  box.replaceChildren(
    element('h2', { textContent: row.filename ?? row.id }),
    element(
      'p',
      { className: 'small' },
      `${row.status} · ${bytes(row.offset)} of ${bytes(row.size)} · chunks of ${bytes(chunkSize)}` +
        (speed ? ` · ${bytes(row.speedBytesPerSecond)}/s · ${seconds(row.etaSeconds)} left` : ''),
    ),
    element(
      'div',
      { className: 'chunk-map', role: 'img', ariaLabel: `${row.receivedChunks} of ${total} chunks received` },
      ...cells,
    ),
    element(
      'p',
      { className: 'legend small' },
      element('span', { className: 'cell got' }),
      ` received ${row.receivedChunks}`,
      element('span', { className: 'cell part' }),
      ' in progress',
      element('span', { className: 'cell missing' }),
      ` missing ${Math.max(0, total - row.receivedChunks)}`,
      ` · failed attempts ${row.failedChunks} (each sent again)${per > 1 ? ` · one cell is ${per} chunks` : ''}`,
    ),
  );
  box.dataset.id = row.id;
  box.hidden = false;
}

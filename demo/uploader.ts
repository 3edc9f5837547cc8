import { type DetailedError, defaultOptions, type PreviousUpload, Upload } from 'tus-js-client';
import { bytes, element, type LiveMessage, type Row, seconds } from './format.js';
import { type Grid, patchSizeFor, uploadGrid } from './grid.js';

const list = document.getElementById('uploads') as HTMLUListElement;
const input = document.getElementById('file-input') as HTMLInputElement;
const drop = document.getElementById('drop') as HTMLLabelElement;
const earlier = document.getElementById('earlier') as HTMLDivElement;

/** Waits between tries while the server cannot be reached: quick at first, then every 15 s for about 10 minutes. */
const RETRY_DELAYS = [0, 1000, 2000, 4000, 8000, 15000, ...Array.from({ length: 40 }, () => 15000)];

/** What this server takes (GET /api/limits): the demo's chunk grid is chosen within it. */
const grid: Promise<Grid | undefined> = fetch('/api/limits').then(
  (res) => (res.ok ? (res.json() as Promise<Grid>) : undefined),
  () => undefined,
);

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
showEarlierUploads();

/** What a failed request means to a person: the server's own message when it answered, else that it is away. */
function explain(error: Error | DetailedError): string {
  const response = (error as DetailedError).originalResponse;
  if (!response) return 'The server could not be reached.';
  const status = response.getStatus();
  let message = '';
  try {
    message = (JSON.parse(response.getBody()) as { error?: { message?: string } }).error?.message ?? '';
  } catch {
    message = response.getBody().trim().split('\n')[0] ?? '';
  }
  return `Refused by the server (${status}): ${message || 'no reason given'}.`;
}

/** One file: a tus upload, and a card showing what the server says of it. */
async function start(file: File): Promise<void> {
  const bar = element('span');
  const clientBar = element('span');
  const status = element('span', { className: 'badge uploading', textContent: 'starting', role: 'status' });
  const numbers = element('div', { className: 'meta', textContent: `0 of ${bytes(file.size)}` });
  const detail = element('div', { className: 'small chunks' });
  const notice = element('div', { className: 'small notice-line', role: 'alert' });
  const missing = element('div', { className: 'small missing' });
  const pause = element('button', { type: 'button', textContent: 'Pause' });
  const retry = element('button', { type: 'button', textContent: 'Retry now', hidden: true });
  const remove = element('button', { type: 'button', textContent: 'Remove' });
  const confirmRemove = element('button', { type: 'button', textContent: 'Delete from the server', hidden: true });
  const keep = element('button', { type: 'button', textContent: 'Keep it', hidden: true });
  const card = element(
    'li',
    { className: 'upload' },
    element('div', { className: 'top' }, element('span', { className: 'name', textContent: file.name }), status),
    element('div', { className: 'bar', title: 'stored on the server' }, bar),
    element('div', { className: 'bar thin', title: 'sent by this browser' }, clientBar),
    numbers,
    detail,
    notice,
    missing,
    element('div', { className: 'actions' }, pause, retry, remove, confirmRemove, keep),
  );
  card.dataset.status = 'uploading';
  list.prepend(card);

  const chosen = uploadGrid(await grid, file.size);
  let events: EventSource | undefined;
  /** Paused by the person; pausing while the chunk in flight finishes (no request is cut). */
  let paused = false;
  let pausing = false;
  let patchInFlight = false;
  /** Being removed: nothing more is shown, whatever tus-js-client reports while it deletes the upload. */
  let discarding = false;
  /** What the badge says of an upload the server reports `status` for. */
  const badgeFor = (status: string) =>
    status === 'uploading' && pausing ? 'pausing' : status === 'uploading' && paused ? 'paused' : status;
  let countdown: ReturnType<typeof setInterval> | undefined;
  let latest: Row | undefined;

  const stopCountdown = () => {
    clearInterval(countdown);
    countdown = undefined;
  };
  const setBadge = (text: string, kind: string) => {
    status.className = `badge ${kind}`;
    status.textContent = text;
  };

  const upload = new Upload(file, {
    endpoint: '/files',
    chunkSize: patchSizeFor(chosen),
    retryDelays: RETRY_DELAYS,
    removeFingerprintOnSuccess: true,
    // If a resuming HEAD gets a 5xx, tus-js-client creates the upload again: with this key the server answers
    // with the same upload, and no byte is sent twice (docs/clients.md).
    headers: { 'Idempotency-Key': idempotencyKey() },
    metadata: {
      filename: file.name,
      filetype: file.type || 'application/octet-stream',
      ...(chosen ? { chunkSize: String(chosen) } : {}),
    },
    onBeforeRequest: (req) => {
      if (req.getMethod() === 'PATCH') patchInFlight = true;
    },
    onAfterResponse: (req) => {
      if (req.getMethod() === 'PATCH') patchInFlight = false;
      if (countdown !== undefined || card.dataset.status === 'error') {
        // The server answers again: say so, and carry on where it is.
        stopCountdown();
        notice.textContent = '';
        retry.hidden = true;
        pause.hidden = false;
        card.dataset.status = latest?.status ?? 'uploading';
        setBadge(badgeFor(latest?.status ?? 'uploading'), latest?.status ?? 'uploading');
      }
    },
    onProgress: (sent, total) => {
      clientBar.style.width = `${total ? (100 * sent) / total : 100}%`;
    },
    onChunkComplete: () => {
      patchInFlight = false;
      // A pause asked for while a chunk was in flight takes effect once it is stored.
      if (pausing) halt();
    },
    onShouldRetry: (error, attempt) => {
      const response = (error as DetailedError).originalResponse;
      const code = response?.getStatus() ?? 0;
      // tus-js-client's rule: not a 4xx, except 409 (offsets differ) and 423 (locked), which a retry resolves.
      const retryable = code === 0 || code >= 500 || code === 409 || code === 423;
      if (!retryable) return false;
      patchInFlight = false;
      if (discarding) return true;
      if (pausing) {
        // The chunk in flight failed: nothing is in flight now, so the pause takes effect (after tus-js-client
        // has set its retry timer, which the abort clears).
        setTimeout(halt, 0);
        return true;
      }
      waitAndSay(code === 0 ? 'Server unreachable' : `Server busy (${code})`, RETRY_DELAYS[attempt] ?? 0);
      return true;
    },
    onUploadUrlAvailable: () => {
      card.dataset.id = upload.url?.split('/').pop();
      events ??= watch(upload.url?.split('/').pop() as string);
    },
    onError: (error) => {
      stopCountdown();
      patchInFlight = false;
      card.dataset.status = 'error';
      setBadge('error', 'error');
      notice.textContent =
        `${explain(error)} ${(error as DetailedError).originalResponse ? '' : 'Retry once it is back.'}`.trim();
      detail.textContent = '';
      retry.hidden = false;
      pause.hidden = true;
    },
    onSuccess: () => {
      clientBar.style.width = '100%';
      pause.hidden = true;
      retry.hidden = true;
      notice.textContent = '';
    },
  });

  /** Shows "Server unreachable · retrying in N s", counting down, while tus-js-client waits to try again. */
  function waitAndSay(what: string, delayMs: number): void {
    stopCountdown();
    const until = Date.now() + delayMs;
    card.dataset.status = 'waiting';
    setBadge('waiting', 'waiting');
    // The speed and time left were the server's numbers before it went away: stale now.
    detail.textContent = latest ? chunkLine(latest, false) : '';
    retry.hidden = false;
    const say = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      notice.textContent = left > 0 ? `${what} · retrying in ${left} s` : `${what} · retrying now`;
    };
    say();
    countdown = setInterval(say, 500);
  }

  function halt(): void {
    upload.abort();
    pausing = false;
    stopCountdown();
    retry.hidden = true;
    card.dataset.status = latest?.status ?? 'uploading';
    setBadge('paused', 'uploading');
    notice.textContent = '';
    if (card.dataset.id) showMissing(card.dataset.id);
  }

  /** The server's own numbers, pushed as they change (Server-Sent Events). */
  function watch(id: string): EventSource {
    const source = new EventSource(`/api/uploads/${id}/events`);
    const show = (row: Row | null) => {
      if (!row) return;
      latest = row;
      const done = row.percent ?? 0;
      bar.style.width = `${done}%`;
      if (card.dataset.status !== 'waiting' && card.dataset.status !== 'error') {
        card.dataset.status = row.status;
        setBadge(badgeFor(row.status), row.status);
      }
      numbers.textContent = `${bytes(row.offset)} of ${bytes(row.size)} stored · ${done.toFixed(1)} %`;
      detail.textContent = chunkLine(row, card.dataset.status === 'uploading' && !paused);
      if (row.status === 'uploading' && (paused || row.failedChunks > 0)) showMissing(id);
      else missing.textContent = '';
      if (row.status === 'completed') {
        stopCountdown();
        notice.textContent = '';
        retry.hidden = true;
      }
    };
    for (const type of ['snapshot', 'created', 'progress', 'completed', 'failed']) {
      source.addEventListener(type, (e) => show((JSON.parse((e as MessageEvent).data) as LiveMessage).upload));
    }
    source.addEventListener('completed', () => source.close());
    return source;
  }

  async function showMissing(id: string): Promise<void> {
    const res = await fetch(`/api/uploads/${id}/missing`).catch(() => undefined);
    if (!res?.ok) return;
    const { missingRanges } = (await res.json()) as { missingRanges: Array<[number, number]> | null };
    missing.textContent = missingRanges?.length
      ? `missing chunks ${missingRanges.map(([a, b]) => (a === b ? a : `${a}–${b}`)).join(', ')}`
      : '';
  }

  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) {
      notice.textContent = '';
      // Still pausing: the chunk in flight never stopped, so the upload simply goes on (a second start would
      // run a second loop of PATCHes beside it).
      if (pausing) {
        pausing = false;
        setBadge(badgeFor(latest?.status ?? 'uploading'), latest?.status ?? 'uploading');
      } else upload.start();
    } else if (patchInFlight) {
      // Not cut: the chunk being sent is stored first (a cut request would count as a failed chunk).
      pausing = true;
      setBadge('pausing', 'uploading');
      notice.textContent = 'Pausing once the chunk being sent is stored…';
    } else halt();
  });
  retry.addEventListener('click', () => {
    stopCountdown();
    retry.hidden = true;
    pause.hidden = false;
    paused = false;
    pausing = false;
    pause.textContent = 'Pause';
    notice.textContent = '';
    upload.abort().finally(() => upload.start());
  });
  remove.addEventListener('click', () => {
    // A completed upload is a file on the server: deleting it asks first.
    if (card.dataset.status === 'completed') {
      remove.hidden = true;
      confirmRemove.hidden = false;
      keep.hidden = false;
      notice.textContent = `Delete ${file.name} from the server? This cannot be undone.`;
      confirmRemove.focus();
      return;
    }
    discard();
  });
  keep.addEventListener('click', () => {
    remove.hidden = false;
    confirmRemove.hidden = true;
    keep.hidden = true;
    notice.textContent = '';
  });
  confirmRemove.addEventListener('click', discard);
  async function discard(): Promise<void> {
    discarding = true;
    stopCountdown();
    events?.close();
    card.remove();
    // Deleted on the server in the background (retried while it cannot be reached).
    await upload.abort(true).catch(() => {});
  }

  const previous = await upload.findPreviousUploads();
  const last = previous[0];
  if (last) {
    upload.resumeFromPreviousUpload(last);
    notice.textContent = 'Resuming the upload of this file that was left unfinished.';
  }
  upload.start();
}

/** A key of 128 random bits (crypto.getRandomValues works where randomUUID needs a secure context). */
function idempotencyKey(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** "chunks 3/13 received · 0 failed", with the server's speed and time left while it is receiving. */
function chunkLine(row: Row, moving: boolean): string {
  const speed =
    moving && row.speedBytesPerSecond > 0
      ? ` · ${bytes(row.speedBytesPerSecond)}/s · ${seconds(row.etaSeconds)} left`
      : '';
  const failed = row.failedChunks > 0 ? ` · ${row.failedChunks} failed (sent again)` : ' · 0 failed';
  return `chunks ${row.receivedChunks}/${row.totalChunks ?? '?'} received${failed}${speed}`;
}

/**
 * Uploads this browser left unfinished (tus-js-client keeps their URLs): picking the same file again resumes it.
 * Those the server no longer has are forgotten.
 */
async function showEarlierUploads(): Promise<void> {
  const storage = defaultOptions.urlStorage;
  const found: PreviousUpload[] = await storage.findAllUploads().catch(() => []);
  const lines: HTMLElement[] = [];
  for (const entry of found) {
    const id = entry.uploadUrl?.split('/').pop();
    if (!id) continue;
    const res = await fetch(`/api/uploads/${id}/progress`).catch(() => undefined);
    if (res && (res.status === 404 || res.status === 410)) {
      await storage.removeUpload(entry.urlStorageKey);
      continue;
    }
    const row = res?.ok ? ((await res.json()) as { offset: number; size: number | null; status: string }) : undefined;
    if (row?.status === 'completed') continue;
    const stored = row ? `${bytes(row.offset)} of ${bytes(row.size)} stored` : 'on the server';
    lines.push(element('li', { textContent: `${entry.metadata.filename ?? id}: ${stored}` }));
  }
  if (lines.length === 0) return;
  earlier.replaceChildren(
    element('strong', {
      textContent: `${lines.length === 1 ? 'An upload' : `${lines.length} uploads`} left unfinished in this browser`,
    }),
    element('ul', {}, ...lines),
    element('span', { textContent: 'Pick the same file again to resume where it stopped.' }),
  );
  earlier.hidden = false;
}

/** Formatting shared by the demo pages. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined) return '—';
  if (s < 60) return `${Math.ceil(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.ceil(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: Array<Node | string>
) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** The upload as the server reports it (a row of the uploads list / a live event). */
export type Row = {
  id: string;
  filename: string | null;
  status: string;
  size: number | null;
  offset: number;
  percent: number | null;
  totalChunks: number | null;
  receivedChunks: number;
  failedChunks: number;
  speedBytesPerSecond: number;
  etaSeconds: number | null;
  updatedAt: string;
};

export type LiveMessage = { type: string; id: string; at: number; upload: Row | null };

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { bytes } from './format.js';

/** Seconds of history the charts keep. */
const WINDOW_S = 300;
const STATES = ['uploading', 'assembling', 'completed', 'failed'] as const;
const COLORS: Record<string, string> = {
  throughput: '#2f6fed',
  uploading: '#2f6fed',
  assembling: '#d97706',
  completed: '#12a150',
  failed: '#d92d20',
};

export type Sample = { throughput: number; counts: Record<string, number> };

/**
 * Two live charts (uPlot): bytes stored per second across all uploads, and how many uploads are in each state,
 * over the last five minutes, one point a second. They follow their boxes' width (a phone's too).
 */
export class LiveCharts {
  private readonly times: number[] = [];
  private readonly throughput: number[] = [];
  private readonly counts = new Map<string, number[]>(STATES.map((s) => [s, []]));
  private readonly rate: uPlot;
  private readonly states: uPlot;

  constructor(rateBox: HTMLElement, statesBox: HTMLElement) {
    const axes = (format: (v: number) => string): uPlot.Axis[] => [
      { stroke: '#667085', grid: { stroke: '#eef0f3' } },
      { stroke: '#667085', grid: { stroke: '#eef0f3' }, size: 84, values: (_u, ticks) => ticks.map(format) },
    ];
    // The history there is, up to five minutes (at least ten seconds wide), ending now.
    const window = (): uPlot.Range.MinMax => {
      const now = Date.now() / 1000;
      return [Math.max(now - WINDOW_S, Math.min(this.times[0] ?? now, now - 10)), now];
    };
    this.rate = new uPlot(
      {
        ...size(rateBox),
        title: 'Stored per second',
        scales: { x: { time: true, range: window }, y: { range: (_u, _min, max) => [0, Math.max(max * 1.1, 1024)] } },
        series: [
          {},
          {
            label: 'stored',
            stroke: COLORS.throughput,
            fill: 'rgba(47,111,237,0.15)',
            width: 2,
            value: (_u, v) => (v === null ? '—' : `${bytes(v)}/s`),
          },
        ],
        axes: axes((v) => `${bytes(v)}/s`),
        legend: { show: false },
      },
      [[], []],
      rateBox,
    );
    this.states = new uPlot(
      {
        ...size(statesBox),
        title: 'Uploads by state',
        scales: { x: { time: true, range: window }, y: { range: (_u, _min, max) => [0, Math.max(max + 1, 4)] } },
        series: [{}, ...STATES.map((s) => ({ label: s, stroke: COLORS[s], width: 2 }))],
        axes: axes((v) => String(Math.round(v))),
        legend: { live: false },
      },
      [[], ...STATES.map(() => [])],
      statesBox,
    );
    const follow = new ResizeObserver(() => {
      this.rate.setSize(size(rateBox));
      this.states.setSize(size(statesBox));
    });
    follow.observe(rateBox);
    follow.observe(statesBox);
  }

  /** Adds the second's sample and redraws. */
  add(at: number, sample: Sample): void {
    this.times.push(at / 1000);
    this.throughput.push(sample.throughput);
    for (const s of STATES) this.counts.get(s)?.push(sample.counts[s] ?? 0);
    if (this.times.length > WINDOW_S) {
      this.times.shift();
      this.throughput.shift();
      for (const series of this.counts.values()) series.shift();
    }
    this.rate.setData([this.times, this.throughput]);
    this.states.setData([this.times, ...STATES.map((s) => this.counts.get(s) ?? [])]);
  }
}

function size(box: HTMLElement): { width: number; height: number } {
  return { width: Math.max(200, box.clientWidth), height: 180 };
}

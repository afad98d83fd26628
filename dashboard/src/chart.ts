import { s } from './dom';
import { dayLabel } from './format';

export const OUTCOMES = ['completed', 'failed', 'pending'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface ChartDay {
  date: string;
  counts: Record<Outcome, number>;
}

const WIDTH = 720;
const HEIGHT = 260;
const PAD = { top: 16, right: 12, bottom: 44, left: 40 };

// Axis maximum rounded up to 1, 2 or 5 times a power of ten, so the four grid lines get whole labels.
function niceMax(value: number): number {
  if (value <= 4) return 4;
  const step = value / 4;
  const magnitude = 10 ** Math.floor(Math.log10(step));
  const nice = [1, 2, 5, 10].map((f) => f * magnitude).find((c) => c >= step) ?? 10 * magnitude;
  return nice * 4;
}

// Calls per day, stacked by outcome. Drawn by hand: no chart library, no inline styles (CSS classes only).
export function callsPerDayChart(days: ChartDay[]): SVGElement {
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const totals = days.map((d) => OUTCOMES.reduce((sum, o) => sum + d.counts[o], 0));
  const max = niceMax(Math.max(0, ...totals));
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const band = plotW / Math.max(days.length, 1);
  const barW = Math.min(56, band * 0.6);

  const summary = days
    .map((d, i) => `${d.date}: ${totals[i]} calls (${OUTCOMES.map((o) => `${d.counts[o]} ${o}`).join(', ')})`)
    .join('; ');
  const svg = s(
    'svg',
    {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      'aria-labelledby': 'chart-title chart-desc',
      class: 'bar-chart',
      'data-testid': 'calls-chart',
      preserveAspectRatio: 'xMidYMid meet',
    },
    s('title', { id: 'chart-title' }, 'Calls per day by outcome, last 7 days'),
    s('desc', { id: 'chart-desc' }, summary),
  );

  const grid = s('g', { class: 'grid', 'aria-hidden': 'true' });
  for (let i = 0; i <= 4; i++) {
    const value = (max / 4) * i;
    const gy = y(value);
    grid.append(
      s('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: gy, y2: gy, class: i === 0 ? 'axis' : 'gridline' }),
      s('text', { x: PAD.left - 8, y: gy + 4, class: 'tick', 'text-anchor': 'end' }, String(value)),
    );
  }
  svg.append(grid);

  days.forEach((day, i) => {
    const cx = PAD.left + band * i + band / 2;
    const group = s('g', { class: 'day', 'data-testid': 'chart-day', 'data-date': day.date, 'data-total': totals[i] });
    let base = 0;
    for (const outcome of OUTCOMES) {
      const count = day.counts[outcome];
      if (count > 0) {
        const top = y(base + count);
        group.append(
          s(
            'rect',
            {
              x: (cx - barW / 2).toFixed(1),
              y: top.toFixed(1),
              width: barW.toFixed(1),
              height: Math.max(1, y(base) - top).toFixed(1),
              class: `bar ${outcome}`,
              'data-testid': 'chart-bar',
              'data-date': day.date,
              'data-outcome': outcome,
              'data-count': count,
            },
            s('title', {}, `${day.date}: ${count} ${outcome}`),
          ),
        );
      }
      base += count;
    }
    if (totals[i] > 0) {
      group.append(s('text', { x: cx, y: y(totals[i]) - 5, class: 'total', 'text-anchor': 'middle' }, String(totals[i])));
    }
    const label = dayLabel(day.date);
    group.append(
      s('text', { x: cx, y: HEIGHT - PAD.bottom + 17, class: 'label', 'text-anchor': 'middle' }, label.weekday),
      s('text', { x: cx, y: HEIGHT - PAD.bottom + 33, class: 'label muted', 'text-anchor': 'middle' }, label.day),
    );
    svg.append(group);
  });
  return svg;
}

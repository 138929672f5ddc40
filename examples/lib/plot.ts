// A small SVG plotter for training curves (and the spiral's decision regions): panels side by side,
// each with axes, nice ticks, grid lines, line or scatter series and a legend. No dependencies.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Series {
  readonly label: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
  readonly kind?: 'line' | 'scatter';
  readonly width?: number;
  readonly opacity?: number;
  /** draw a dot at every point of a line */
  readonly dots?: boolean;
  /** leave out of the legend */
  readonly hidden?: boolean;
}

export interface Cell {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
  readonly color: string;
  readonly opacity?: number;
}

export interface Panel {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly cells?: readonly Cell[];
  readonly xRange?: readonly [number, number];
  readonly yRange?: readonly [number, number];
  /** where the legend goes */
  readonly legend?: 'top-right' | 'bottom-right';
  readonly yFormat?: (v: number) => string;
}

const PANEL_W = 460;
const PANEL_H = 320;
const M = { left: 62, right: 16, top: 34, bottom: 46 };
const HEADER = 56;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (Math.abs(v) < 1e-12 ? '0' : Number(v.toPrecision(6)).toString());

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function extent(values: number[], pad: number): [number, number] {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

function panelSvg(p: Panel, ox: number, oy: number): string {
  const w = PANEL_W - M.left - M.right;
  const h = PANEL_H - M.top - M.bottom;
  const xs = p.series.flatMap((s) => s.points.map((q) => q[0]));
  const ys = p.series.flatMap((s) => s.points.map((q) => q[1]));
  const [x0, x1] = p.xRange ?? extent(xs, 0);
  const [y0, y1] = p.yRange ?? extent(ys, 0.05);
  const X = (x: number) => ox + M.left + ((x - x0) / (x1 - x0 || 1)) * w;
  const Y = (y: number) => oy + M.top + h - ((y - y0) / (y1 - y0 || 1)) * h;
  const out: string[] = [];
  const clip = `clip${Math.round(ox)}_${Math.round(oy)}`;
  out.push(`<clipPath id="${clip}"><rect x="${X(x0)}" y="${Y(y1)}" width="${w}" height="${h}"/></clipPath>`);
  out.push(`<text x="${ox + M.left + w / 2}" y="${oy + 20}" text-anchor="middle" font-size="15" font-weight="bold">${esc(p.title)}</text>`);
  out.push(`<rect x="${X(x0)}" y="${Y(y1)}" width="${w}" height="${h}" fill="#fff" stroke="#444"/>`);
  for (const c of p.cells ?? [])
    out.push(`<rect x="${X(c.x0).toFixed(2)}" y="${Y(c.y1).toFixed(2)}" width="${(X(c.x1) - X(c.x0)).toFixed(2)}" height="${(Y(c.y0) - Y(c.y1)).toFixed(2)}" fill="${c.color}" fill-opacity="${c.opacity ?? 0.25}"/>`);
  const yf = p.yFormat ?? fmt;
  for (const t of niceTicks(y0, y1)) {
    out.push(`<line x1="${X(x0)}" x2="${X(x1)}" y1="${Y(t).toFixed(2)}" y2="${Y(t).toFixed(2)}" stroke="#ddd"/>`);
    out.push(`<text x="${X(x0) - 6}" y="${(Y(t) + 4).toFixed(2)}" text-anchor="end" font-size="11">${esc(yf(t))}</text>`);
  }
  for (const t of niceTicks(x0, x1, 6)) {
    out.push(`<line x1="${X(t).toFixed(2)}" x2="${X(t).toFixed(2)}" y1="${Y(y0)}" y2="${Y(y1)}" stroke="#eee"/>`);
    out.push(`<text x="${X(t).toFixed(2)}" y="${Y(y0) + 16}" text-anchor="middle" font-size="11">${esc(fmt(t))}</text>`);
  }
  out.push(`<rect x="${X(x0)}" y="${Y(y1)}" width="${w}" height="${h}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${ox + M.left + w / 2}" y="${oy + PANEL_H - 8}" text-anchor="middle" font-size="12">${esc(p.xLabel)}</text>`);
  const ly = oy + M.top + h / 2;
  out.push(`<text x="${ox + 14}" y="${ly}" text-anchor="middle" font-size="12" transform="rotate(-90 ${ox + 14} ${ly})">${esc(p.yLabel)}</text>`);
  out.push(`<g clip-path="url(#${clip})">`);
  for (const s of p.series) {
    const op = s.opacity ?? 1;
    if (s.kind === 'scatter') {
      for (const [x, y] of s.points) out.push(`<circle cx="${X(x).toFixed(2)}" cy="${Y(y).toFixed(2)}" r="2.6" fill="${s.color}" fill-opacity="${op}" stroke="#fff" stroke-width="0.5"/>`);
      continue;
    }
    if (s.points.length > 1) {
      const d = s.points.map(([x, y], i) => `${i ? 'L' : 'M'}${X(x).toFixed(2)},${Y(y).toFixed(2)}`).join('');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}" stroke-opacity="${op}" stroke-linejoin="round"/>`);
    }
    if (s.dots || s.points.length === 1) for (const [x, y] of s.points) out.push(`<circle cx="${X(x).toFixed(2)}" cy="${Y(y).toFixed(2)}" r="3.5" fill="${s.color}"/>`);
  }
  out.push('</g>');
  const shown = p.series.filter((s) => !s.hidden);
  if (shown.length) {
    const lw = 12 + Math.max(...shown.map((s) => s.label.length)) * 6.6 + 30;
    const lh = shown.length * 18 + 8;
    const lx = X(x1) - lw - 8;
    const ly0 = p.legend === 'bottom-right' ? Y(y0) - lh - 8 : Y(y1) + 8;
    out.push(`<rect x="${lx}" y="${ly0}" width="${lw}" height="${lh}" fill="#fff" fill-opacity="0.85" stroke="#bbb"/>`);
    shown.forEach((s, i) => {
      const yy = ly0 + 15 + i * 18;
      if (s.kind === 'scatter') out.push(`<circle cx="${lx + 18}" cy="${yy - 4}" r="4" fill="${s.color}"/>`);
      else out.push(`<line x1="${lx + 8}" x2="${lx + 28}" y1="${yy - 4}" y2="${yy - 4}" stroke="${s.color}" stroke-width="3" stroke-opacity="${Math.max(s.opacity ?? 1, 0.5)}"/>`);
      out.push(`<text x="${lx + 34}" y="${yy}" font-size="12">${esc(s.label)}</text>`);
    });
  }
  return out.join('\n');
}

/** An SVG document with a title, a subtitle and the panels in a row. */
export function svgPlot(opts: { title: string; subtitle?: string; panels: readonly Panel[] }): string {
  const width = opts.panels.length * PANEL_W + 20;
  const height = PANEL_H + HEADER + 10;
  const parts = opts.panels.map((p, i) => panelSvg(p, 10 + i * PANEL_W, HEADER));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#fafafa"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold">${esc(opts.title)}</text>`,
    opts.subtitle ? `<text x="${width / 2}" y="44" text-anchor="middle" font-size="12" fill="#555">${esc(opts.subtitle)}</text>` : '',
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

export function writeSvg(file: string, svg: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, svg);
}

/** Centred moving average over `window` points (for noisy per-batch losses); no lag. */
export function smooth(points: readonly (readonly [number, number])[], window: number): [number, number][] {
  const half = Math.max(0, Math.floor(window / 2));
  const out: [number, number][] = [];
  let sum = 0;
  let lo = 0;
  let hi = 0; // the window is points[lo, hi)
  for (let i = 0; i < points.length; i++) {
    const a = Math.max(0, i - half);
    const b = Math.min(points.length, i + half + 1);
    while (hi < b) sum += points[hi++]![1];
    while (lo < a) sum -= points[lo++]![1];
    out.push([points[i]![0], sum / (hi - lo)]);
  }
  return out;
}

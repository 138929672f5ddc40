// What every run of the derive command on an untrusted program must look like (the contract of the
// fuzz tests): it returns, exits 0 or 1 (never 70, an internal error), prints no stack trace and no
// control character a terminal would act on, finishes within a CPU budget, and on exit 1 points at
// `<program>:line:col` with the line (escaped, or a window of a long one) and a caret under that column.
import { expect } from 'vitest';
import { main } from '../../src/cli.js';
import { LINE_BREAK } from '../../src/ir/errors.js';

/** CPU time of one call (wall time depends on what else the machine runs), and a wall-time backstop. */
const CPU_LIMIT_MS = 2000;
const WALL_LIMIT_MS = 10_000;

export interface Outcome {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  readonly cpuMs: number;
  readonly wallMs: number;
}

export async function derive(source: string, extra: readonly string[] = []): Promise<Outcome> {
  let out = '';
  let err = '';
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const code = await main(['-e', source, ...extra], { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n') });
  const used = process.cpuUsage(cpu);
  return { code, out, err, cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - wall };
}

/** The contract of every outcome (see the file comment); throws a readable failure. */
export function expectClean(source: string, r: Outcome, cpuLimitMs = CPU_LIMIT_MS): void {
  const shown = JSON.stringify(source.length > 300 ? `${source.slice(0, 300)}…` : source);
  expect(r.code, `exit code for ${shown}\n${r.err}`).toBeOneOf([0, 1]);
  expect(`${r.out}${r.err}`, `a stack trace for ${shown}`).not.toMatch(/^\s+at .*:\d+(:\d+)?\)?$/m);
  expect(r.cpuMs, `CPU time for ${shown}`).toBeLessThan(cpuLimitMs);
  expect(r.wallMs, `wall time for ${shown}`).toBeLessThan(WALL_LIMIT_MS);
  if (r.code === 0) return;
  const lines = r.err.split('\n');
  const head = /^<program>:(\d+):(\d+): error: \S/.exec(lines[0]!);
  expect(head, `a located error for ${shown}\n${r.err}`).not.toBeNull();
  const line = Number(head![1]);
  const col = Number(head![2]);
  const text = source.replace(/^\uFEFF/, '').split(LINE_BREAK)[line - 1];
  expect(text, `line ${line} exists in ${shown}`).toBeDefined();
  expect(col, `column ${col} within line ${line} of ${shown}`).toBeLessThanOrEqual([...text!].length + 1);
  // nothing a terminal would act on reaches it: control characters of the source are shown escaped
  expect(r.err, `a raw control character on stderr for ${shown}`).not.toMatch(TERMINAL_CONTROLS);
  // the echoed line: the source line as shown (escapes, tabs kept), whole or as a window cut with `…`
  const cells = [...text!].map(shownInExcerpt);
  const full = cells.join('');
  const gutter = `  ${line} | `;
  expect(lines[1]?.startsWith(gutter), `the echoed source line for ${shown}\n${r.err}`).toBe(true);
  const echoed = lines[1]!.slice(gutter.length);
  const caret = new RegExp(`^  ${' '.repeat(String(line).length)} \\| ([ \\t]*)\\^+$`).exec(lines[2] ?? '');
  expect(caret, `a caret line for ${shown}\n${r.err}`).not.toBeNull();
  const pad = [...caret![1]!];
  if (echoed === full) {
    // the caret sits under column `col`: one space per column of what precedes it (a tab as a tab)
    expect(caret![1], `caret column for ${shown}\n${r.err}`).toBe(cells.slice(0, col - 1).map((c) => (c === '\t' ? c : ' '.repeat([...c].length))).join(''));
    return;
  }
  // a long line is cut around the caret: what the window shows left of the caret ends the line's
  // text before column `col`, and what it shows from the caret on starts the text from `col`
  expect([...full].length, `only a long line is cut, for ${shown}\n${r.err}`).toBeGreaterThan(100);
  const cut = echoed.startsWith('…') ? 1 : 0;
  const shownChars = [...echoed];
  const left = shownChars.slice(cut, pad.length).join('');
  const right = shownChars.slice(pad.length).join('').replace(/…$/u, '');
  const before = cells.slice(0, col - 1).join('');
  expect(before.endsWith(left), `the window left of the caret for ${shown}\n${r.err}`).toBe(true);
  expect(cells.slice(col - 1).join('').startsWith(right), `the window from the caret for ${shown}\n${r.err}`).toBe(true);
  expect(pad.slice(cut).join(''), `tabs in the caret's padding for ${shown}\n${r.err}`).toBe([...left].map((c) => (c === '\t' ? c : ' ')).join(''));
}

/** Control characters (but tab and newline), DEL, C1 controls, bidirectional overrides and isolates. */
const TERMINAL_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

/** How the excerpt shows one code point: `\x1b`, `\r`, `\u202e`, a lone surrogate `\ud800`, or itself. */
function shownInExcerpt(ch: string): string {
  const c = ch.codePointAt(0)!;
  const escaped = (c < 0x20 && ch !== '\t') || (c >= 0x7f && c <= 0x9f) || [0x61c, 0x200e, 0x200f, 0x2028, 0x2029, 0xfeff].includes(c) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || (c >= 0xd800 && c <= 0xdfff);
  if (!escaped) return ch;
  return ch === '\r' ? '\\r' : c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
}


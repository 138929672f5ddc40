// Errors with a location: every message names the offending index or tensor and points at line:col.
//
// Worked example: `Y[i] = X[i` fails with
//   <program>:1:11: error: syntax error: expected `]` to close the subscripts of X, found the end of the program
//     1 | Y[i] = X[i
//       |           ^
//   hint: the `[` at 1:9 is never closed
// The excerpt shows control characters as escapes (a terminal would obey ESC or CR), and a long line
// as a window around the caret: `Y = x\x1b[2J $` points at `$` under `…x\x1b[2J $`, not a cleared screen.

export type ErrorCode =
  | 'syntax'
  | 'unknown-shape'
  | 'unknown-function'
  | 'rank-mismatch'
  | 'shape-mismatch'
  | 'non-affine'
  | 'unknown-range'
  | 'assigned-twice'
  | 'not-an-input'
  | 'used-before-assigned'
  | 'bad-left-side'
  | 'arity'
  | 'bad-name'
  | 'recursive-def'
  | 'bad-size'
  | 'bad-option'
  | 'too-large';

export const ERROR_TITLES: Record<ErrorCode, string> = {
  syntax: 'syntax error',
  'unknown-shape': 'shape cannot be known',
  'unknown-function': 'unknown function',
  'rank-mismatch': 'rank mismatch',
  'shape-mismatch': 'shape mismatch',
  'non-affine': 'index is not affine',
  'unknown-range': 'range cannot be inferred',
  'assigned-twice': 'tensor assigned twice',
  'not-an-input': 'not an input',
  'used-before-assigned': 'used before it is assigned',
  'bad-left-side': 'bad left side',
  arity: 'wrong number of arguments',
  'bad-name': 'name used in the wrong role',
  'recursive-def': 'recursive function',
  'bad-size': 'bad size',
  'bad-option': 'bad option',
  'too-large': 'program too large',
};

/** Every line break a text editor or JavaScript shows as one: a program's lines are what its reader
 * sees (a lone `\r` or U+2028 inside a comment would otherwise hide the rest of the line from us only). */
export const LINE_BREAK = /\r\n|[\n\r\u2028\u2029]/;

export interface Span {
  readonly line: number; // 1-based
  readonly col: number; // 1-based
  readonly length: number;
}

export class DeltagradError extends Error {
  readonly code: ErrorCode;
  readonly span: Span | undefined;
  readonly hint: string | undefined;
  readonly detail: string;
  constructor(code: ErrorCode, detail: string, span?: Span, hint?: string) {
    super(`${ERROR_TITLES[code]}: ${detail}${span ? ` (at ${span.line}:${span.col})` : ''}`);
    this.name = 'DeltagradError';
    this.code = code;
    this.detail = detail;
    this.span = span;
    this.hint = hint;
  }
}

/** `12,345,678`: a count in an error message, readable at a glance. */
export function count(n: number): string {
  if (!Number.isFinite(n) || n >= Number.MAX_SAFE_INTEGER) return 'more than 9,007,199,254,740,991';
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export const fail = (code: ErrorCode, detail: string, span?: Span, hint?: string): never => {
  throw new DeltagradError(code, detail, span, hint);
};

/** Characters a terminal would act on instead of showing (C0 and C1 controls but the tab, DEL, line
 *  and paragraph separators, bidirectional overrides, a byte-order mark, lone surrogates). */
const UNPRINTABLE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]/u;

/** One code point as the excerpt shows it: itself, or a visible escape (`\x1b`, `\r`, `\u202e`). */
export function showChar(ch: string): string {
  if (!UNPRINTABLE.test(ch)) return ch;
  if (ch === '\r') return '\\r';
  const c = ch.codePointAt(0)!;
  return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
}

/** Text with every unprintable character escaped (messages quote the source). */
export const showText = (text: string): string => (UNPRINTABLE.test(text) ? [...text].map(showChar).join('') : text);

/** A line longer than this many columns is shown as a window around the caret. */
const EXCERPT_WIDTH = 100;
const BEFORE_CARET = 40;

/** The excerpt line and the caret line under it: escapes shown, a long line cut around the caret
 *  (`…` at a cut end), the caret under the culprit's first column, as wide as the culprit. */
export function excerpt(line: string, span: Span): { text: string; caret: string } {
  // a line of megabytes is first cut to the code points around the caret that a window can show
  // (an escape is at most 6 columns), without spreading the whole line into an array
  let cutBefore = false;
  let cutAfter = false;
  let col = span.col;
  if (line.length > 4 * EXCERPT_WIDTH) {
    const keep = EXCERPT_WIDTH;
    const first = Math.max(0, span.col - 1 - keep);
    const last = span.col - 1 + keep;
    let start = line.length;
    let end = line.length;
    let cp = 0;
    for (let i = 0; i < line.length; cp++) {
      if (cp === first) start = i;
      if (cp === last) {
        end = i;
        break;
      }
      i += line.codePointAt(i)! > 0xffff ? 2 : 1;
    }
    cutBefore = first > 0;
    cutAfter = end < line.length;
    line = line.slice(start, end);
    col = span.col - first;
  }
  const chars = [...line]; // columns count code points, as the lexer does (𝑥 is one column)
  const shown = chars.map(showChar);
  // the columns a code point takes in the excerpt: 1, or the length of its escape
  const cols = shown.map((s, k) => (s === chars[k] ? 1 : s.length));
  const sum = (a: number, b: number) => cols.slice(a, b).reduce((x, y) => x + y, 0);
  const at = Math.min(col - 1, chars.length);
  // the culprit's code points: span.length counts UTF-16 units
  let end = at;
  for (let units = 0; end < chars.length && units < Math.max(1, span.length); end++) units += chars[end]!.length;
  // the span beyond the line's end (an unclosed bracket at the end of the program)
  const past = cutAfter ? 0 : Math.max(1, span.length) - chars.slice(at, end).join('').length;
  let from = 0;
  let to = chars.length;
  if (cutBefore || cutAfter || sum(0, chars.length) > EXCERPT_WIDTH) {
    let w = 0;
    for (from = at; from > 0 && w + cols[from - 1]! <= BEFORE_CARET; ) w += cols[--from]!;
    for (to = at; to < chars.length && (to === at || w + cols[to]! <= EXCERPT_WIDTH); ) w += cols[to++]!;
  }
  const head = from > 0 || cutBefore ? '…' : '';
  const text = head + shown.slice(from, to).join('') + (to < chars.length || cutAfter ? '…' : '');
  const pad = ' '.repeat(head.length) + chars.slice(from, at).map((ch, k) => (ch === '\t' ? '\t' : ' '.repeat(cols[from + k]!))).join('');
  const width = sum(at, Math.min(end, to)) + (to === chars.length ? past : 0);
  return { text, caret: pad + '^'.repeat(Math.max(1, width)) };
}

/** A name longer than this is shown in a message by its two ends (a 20 000-character name once). */
const NAME_SHOWN = 64;

/** Long names in a message shortened to their ends: `aaaa…aaaa (20,000 characters)`. */
const shortenNames = (text: string): string =>
  text.replace(new RegExp(`[\\p{L}\\p{N}_]{${NAME_SHOWN + 1},}`, 'gu'), (n) => {
    const cps = [...n];
    return `${cps.slice(0, 40).join('')}…${cps.slice(-12).join('')} (${count(cps.length)} characters)`;
  });

/** The human form: `file:line:col: error: …`, the source line, a caret under the culprit, a hint. */
export function formatError(err: DeltagradError, source: string, file = '<program>'): string {
  const head = `${showText(file)}${err.span ? `:${err.span.line}:${err.span.col}` : ''}: error: ${ERROR_TITLES[err.code]}: ${showText(shortenNames(err.detail))}`;
  const lines = [head];
  if (err.span) {
    // a byte-order mark is not part of the program (check skips it): columns count from after it
    const text = source.replace(/^\uFEFF/, '').split(LINE_BREAK)[err.span.line - 1] ?? '';
    const gutter = String(err.span.line);
    const shown = excerpt(text, err.span);
    lines.push(`  ${gutter} | ${shown.text}`);
    lines.push(`  ${' '.repeat(gutter.length)} | ${shown.caret}`);
  }
  if (err.hint) lines.push(`hint: ${showText(shortenNames(err.hint))}`);
  return lines.join('\n');
}

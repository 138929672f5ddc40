// Errors with a location: every message names the offending index or tensor and points at line:col.
//
// Worked example: `Y[i] = X[i` fails with
//   <program>:1:11: error: syntax error: expected `]` to close the subscripts of X, found the end of the program
//     1 | Y[i] = X[i
//       |           ^
//   hint: the `[` at 1:9 is never closed

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
  | 'bad-option';

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

export const fail = (code: ErrorCode, detail: string, span?: Span, hint?: string): never => {
  throw new DeltagradError(code, detail, span, hint);
};

/** The human form: `file:line:col: error: …`, the source line, a caret under the culprit, a hint. */
export function formatError(err: DeltagradError, source: string, file = '<program>'): string {
  const head = `${file}${err.span ? `:${err.span.line}:${err.span.col}` : ''}: error: ${ERROR_TITLES[err.code]}: ${err.detail}`;
  const lines = [head];
  if (err.span) {
    const text = source.split(LINE_BREAK)[err.span.line - 1] ?? '';
    const gutter = String(err.span.line);
    lines.push(`  ${gutter} | ${text}`);
    // columns count code points, as the lexer does (𝑥 is one column, two UTF-16 units)
    const pad = [...text].slice(0, err.span.col - 1).map((ch) => (ch === '\t' ? '\t' : ' ')).join('');
    lines.push(`  ${' '.repeat(gutter.length)} | ${pad}${'^'.repeat(Math.max(1, err.span.length))}`);
  }
  if (err.hint) lines.push(`hint: ${err.hint}`);
  return lines.join('\n');
}

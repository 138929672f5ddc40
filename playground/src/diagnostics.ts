// diagnostics: a DeltagradError's line:col as a range of the editor's text, and the message the
// editor shows there.
//
// Worked example: in "Y[i] = X[i" the error is at 1:11 (one past the last character: `]` missing),
// which is the range {from: 10, to: 10} of the text, and the message reads
//   1:11 syntax error: expected `]` to close the subscripts of X, found the end of the program
//   hint: the `[` at 1:9 is never closed
// Columns count code points (the lexer's characters) while the editor counts UTF-16 code units, so a
// 𝑥 (two code units) before the culprit moves the range by two, not one. Lines are split as the
// lexer splits them (LINE_BREAK), so a U+2028 inside the text ends a line here as it does there.
import type { DeltagradError } from '../../src/index.js';
import { LINE_BREAK } from '../../src/ir/errors.js';

export interface Range {
  readonly from: number;
  readonly to: number;
}

/** The offsets of a 1-based line and column (code points) and a length in code points; a line or
 *  column past the end is clamped to the end, so a located error is always shown somewhere. */
export function rangeOf(source: string, span: { line: number; col: number; length: number }): Range {
  const breaks = new RegExp(LINE_BREAK.source, 'g');
  let lineStart = 0;
  let lineEnd = source.length;
  for (let line = 1; ; line++) {
    const m = breaks.exec(source);
    lineEnd = m ? m.index : source.length;
    if (line >= span.line || !m) break;
    lineStart = m.index + m[0].length;
  }
  const at = (start: number, points: number, limit: number) => {
    let i = start;
    for (let n = 0; n < points && i < limit; n++) i += source.codePointAt(i)! > 0xffff ? 2 : 1;
    return i;
  };
  const from = at(lineStart, Math.max(0, span.col - 1), lineEnd);
  // a span may run past its line (to the end of the program): the editor marks it to the line's end
  return { from, to: at(from, Math.max(0, span.length), lineEnd) };
}

export interface ProblemDiagnostic extends Range {
  readonly severity: 'error';
  readonly message: string;
  readonly source: string;
}

/** The editor diagnostic of an error: `line:col title: detail`, then the hint. */
export function diagnosticOf(error: DeltagradError, source: string): ProblemDiagnostic {
  const span = error.span ?? { line: 1, col: 1, length: 0 };
  const where = error.span ? `${span.line}:${span.col} ` : '';
  const message = `${where}${error.message.replace(/ \(at \d+:\d+\)$/, '')}${error.hint ? `\nhint: ${error.hint}` : ''}`;
  return { ...rangeOf(source, span), severity: 'error', message, source: error.code };
}

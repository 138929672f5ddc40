// A bracket left open at the end of a file: the caret goes after the last character of the program
// (it used to sit on the empty line after it), and the hint names the bracket that is never closed.
import { describe, expect, it } from 'vitest';
import { errorOf as errorOfCall } from '../helpers.js';
import { check } from '../../src/index.js';

const errorOf = (source: string) => errorOfCall(() => check(source));

describe('an unclosed bracket at the end of the program', () => {
  const cases = [
    ['a subscript, then a newline (a file)', 'dims N\nX: [N]\nY[i] = X[i\n', [3, 11], '`[` at 3:9'],
    ['a parenthesis, then blank lines', 'dims N\nX: [N]\nY[i] = (X[i] + 1\n\n\n', [3, 17], '`(` at 3:8'],
    ['the innermost of two', 'Y[i] = (X[i', [1, 12], '`[` at 1:10'],
  ] as const;
  for (const [label, source, [line, col], bracket] of cases)
    it(label, () => {
      const e = errorOf(source);
      expect(e.message).toMatch(/found the end of the program/);
      expect([e.span?.line, e.span?.col]).toEqual([line, col]);
      expect(e.hint).toContain(`${bracket} is never closed`);
    });
});

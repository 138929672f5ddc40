// The lexer as it was before the character-code rewrite (src/ir/parse.ts, lex): one array of code
// points per line and a Unicode regex test per character. Kept only as the oracle that
// test/ir/lex.test.ts compares the fast lexer against, token by token and error by error.
import { fail, LINE_BREAK } from '../../src/ir/errors.js';
import type { Token } from '../../src/ir/parse.js';

const OPS = ['<=', '>=', '==', '!=', '.*', './', '.^', '[', ']', '(', ')', '{', '}', ',', ':', '=', '+', '-', '*', '/', '%', '^', '<', '>', ';', '@', "'", 'Σ', '∑'];
const TWO_FIRST = new Set(OPS.filter((o) => o.length === 2).map((o) => o[0]!));
const isDigit = (ch: string | undefined): boolean => ch !== undefined && ch.length === 1 && ch >= '0' && ch <= '9';

export function lexByCodePoints(src: string): Token[] {
  const out: Token[] = [];
  const lines = src.split(LINE_BREAK);
  let depth = 0;
  const open: Token[] = [];
  let end = { line: 1, col: 1 };
  lines.forEach((text, li) => {
    const line = li + 1;
    let i = 0;
    const chars = [...text];
    while (i < chars.length) {
      const ch = chars[i]!;
      const col = i + 1;
      if (ch === '#') break;
      if (ch === ' ' || ch === '\t') {
        i++;
        continue;
      }
      if ((ch === '.' || isDigit(ch)) && isDigit(ch === '.' ? chars[i + 1] : ch)) {
        const digit = (k: number) => isDigit(chars[k]);
        let j = i;
        while (digit(j)) j++;
        if (chars[j] === '.') for (j++; digit(j); ) j++;
        if (chars[j] === 'e' || chars[j] === 'E') {
          let k = j + 1;
          if (chars[k] === '+' || chars[k] === '-') k++;
          if (digit(k)) {
            while (digit(k)) k++;
            j = k;
          }
        }
        out.push({ t: 'num', text: chars.slice(i, j).join(''), line, col });
        i = j;
        continue;
      }
      if (ch === 'Σ' || ch === '∑') {
        out.push({ t: 'op', text: 'Σ', line, col });
        i++;
        if (chars[i] === '_') i++;
        continue;
      }
      if (/[\p{L}_]/u.test(ch)) {
        let j = i + 1;
        while (j < chars.length && /[\p{L}\p{N}_]/u.test(chars[j]!) && chars[j] !== 'Σ') j++;
        out.push({ t: 'name', text: chars.slice(i, j).join(''), line, col });
        i = j;
        continue;
      }
      const two = TWO_FIRST.has(ch) ? ch + (chars[i + 1] ?? '') : ch;
      const op = OPS.includes(two) ? two : OPS.includes(ch) ? ch : undefined;
      if (!op)
        fail('syntax', `unexpected character ${JSON.stringify(ch)}`, { line, col, length: 1 }, "the language uses ASCII operators + - * / ^ % .* ./ .^ ' and comparisons; names are letters, digits and _");
      if (op === '(' || op === '[' || op === '{') {
        depth++;
        open.push({ t: 'op', text: op, line, col });
      }
      if (op === ')' || op === ']' || op === '}') {
        depth = Math.max(0, depth - 1);
        open.pop();
      }
      out.push({ t: 'op', text: op!, line, col });
      i += op!.length;
    }
    if (out.length && out[out.length - 1]!.line === line) {
      const t = out[out.length - 1]!;
      end = { line, col: t.col + [...t.text].length };
    }
    if (depth === 0) out.push({ t: 'nl', text: '\n', line, col: chars.length + 1 });
  });
  out.push({ t: 'eof', text: '', ...end, ...(open.length ? { unclosed: open[open.length - 1]! } : {}) });
  return out;
}

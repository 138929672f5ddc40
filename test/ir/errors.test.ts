// Bad programs: every error class exits 1 with line:col, the source line, a caret under the culprit
// and a hint — never a stack trace.
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { DeltagradError, excerpt, formatError } from '../../src/ir/errors.js';

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n') });
  return { code, out, err };
}

/** Column (1-based) of the first caret, measured against the echoed source line. */
function caretColumn(stderr: string): number {
  const lines = stderr.split('\n');
  const i = lines.findIndex((l) => /^\s*\|\s*\^/.test(l) || /\|\s+\^/.test(l));
  const bar = lines[i]!.indexOf('|');
  return lines[i]!.indexOf('^') - bar - 1;
}

const CASES: { code: string; program: string; args?: string[]; at: [number, number]; message: RegExp }[] = [
  { code: 'syntax', program: 'Y[i] = X[i', at: [1, 11], message: /syntax error: expected `]`/ },
  { code: 'syntax (stray character)', program: 'Y[i] = X[i] $ 2', at: [1, 13], message: /unexpected character "\$"/ },
  { code: 'unknown shape', program: 'dims R\nK: [R]\nY[u] = X[u+i]*K[i]', at: [3, 8], message: /shape of X cannot be known/ },
  { code: 'unknown function', program: 'Y[i] = sigmod(X[i])', at: [1, 8], message: /sigmod is not a built-in.*/ },
  { code: 'rank mismatch', program: 'dims M, K\nA: [M, K]\nY[i] = A[i,k,2]', at: [3, 8], message: /A has 2 dimensions but is indexed with 3/ },
  { code: 'shape mismatch', program: 'dims M, K, P, N\nA: [M, K]\nX: [P, N]\nY[i,j] = A[i,k]*X[k,j]', at: [4, 17], message: /index k runs over K .* but over P/ },
  { code: 'non-affine index', program: 'Y[i,j] = X[i*j]', at: [1, 13], message: /product of two indices is not affine/ },
  { code: 'range cannot be inferred', program: 'dims N\nx: [N]\ns = sum(i) i*x[0]', at: [3, 9], message: /cannot infer the range of index i/ },
  { code: 'assigned twice', program: 'Y[i] = X[i]\nY[i] = 2*X[i]', at: [2, 1], message: /Y is already assigned in line 1/ },
  { code: 'not an input', program: 'Y[i] = 2*X[i]', args: ['--wrt', 'Y'], at: [1, 1], message: /Y is not an input of the program \(it is an output\)/ },
];

describe('each error class: exit 1, line:col, caret, hint', () => {
  for (const c of CASES) {
    it(c.code, async () => {
      const r = await cli(['-e', c.program, ...(c.args ?? [])]);
      expect(r.code).toBe(1);
      expect(r.out).toBe('');
      expect(r.err).toMatch(c.message);
      expect(r.err).toContain(`<program>:${c.at[0]}:${c.at[1]}: error:`);
      expect(caretColumn(r.err)).toBe(c.at[1]);
      expect(r.err).toMatch(/\nhint: \S/);
      expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    });
  }
});

describe('usage errors', () => {
  it('an unknown option exits 2 with a message', async () => {
    const r = await cli(['-e', 'f = x', '--nope']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown option --nope/);
  });
  it('--at without a value for an input names it', async () => {
    const r = await cli(['-e', 'f = (x+y)*z', '--at', 'x=1,y=2']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/needs a value for the input z/);
  });
});

describe('the excerpt shows what the source holds, safely (issue 13)', () => {
  const located = (col: number, length = 1) => new DeltagradError('syntax', 'x', { line: 1, col, length }, 'h');
  it('a control character is shown escaped, the caret as wide as its escape', async () => {
    const r = await cli(['-e', 'Y = x\u001b[2J $']);
    expect(r.code).toBe(1);
    expect(r.err).not.toMatch(/\u001b/);
    expect(r.err.split('\n').slice(0, 3)).toEqual([
      '<program>:1:6: error: syntax error: unexpected character "\\u001b"',
      '  1 | Y = x\\x1b[2J $',
      '    |      ^^^^',
    ]);
  });
  it('a backspace, C1 controls and bidi overrides are shown escaped in the line, the message and the hint', () => {
    const e = new DeltagradError('syntax', 'bad \u009b', { line: 1, col: 7, length: 1 }, 'see \u202e');
    expect(formatError(e, 'Y = x\b\u009b\u202e $').split('\n')).toEqual([
      '<program>:1:7: error: syntax error: bad \\x9b',
      '  1 | Y = x\\x08\\x9b\\u202e $',
      '    |          ^^^^',
      'hint: see \\u202e',
    ]);
  });
  it('a lone carriage return ends a line, as it does for the lexer (and JavaScript, and editors)', () => {
    const e = new DeltagradError('syntax', 'bad', { line: 2, col: 1, length: 1 });
    expect(formatError(e, 'Y = x\r$ z').split('\n')).toEqual(['<program>:2:1: error: syntax error: bad', '  2 | $ z', '    | ^']);
  });
  it('the caret stays under its character after escapes, tabs and astral letters', () => {
    // col 10 is `$`: Y, tab, 𝑥, space, ESC, [, 2, J, space
    const { text, caret } = excerpt('Y\t𝑥 \u001b[2J $', { line: 1, col: 10, length: 1 });
    expect(text).toBe('Y\t𝑥 \\x1b[2J $');
    expect(caret).toBe(' \t  ' + ' '.repeat(4) + '    ^');
  });
  it('a long line is shown as a window around the caret, cut with …', () => {
    const line = `Y = ${'x+'.repeat(500)}$ + ${'y+'.repeat(500)}y`;
    const col = [...line].indexOf('$') + 1;
    const { text, caret } = excerpt(line, { line: 1, col, length: 1 });
    expect(text.length).toBeLessThanOrEqual(103);
    expect(text.startsWith('…') && text.endsWith('…')).toBe(true);
    expect(text[caret.length - 1]).toBe('$');
    expect(formatError(located(col), line).split('\n')[1]).toBe(`  1 | ${text}`);
  });
  it('a long culprit is underlined within the window only', () => {
    const { text, caret } = excerpt(`Y = ${'a'.repeat(100_000)} $`, { line: 1, col: 5, length: 100_000 });
    expect(text.length).toBeLessThanOrEqual(102);
    expect(caret).toBe(`    ${'^'.repeat(text.length - 5)}`);
  });
  it('a line of megabytes is cut around the caret before anything is escaped', () => {
    const t = process.cpuUsage();
    const { text, caret } = excerpt('\u0000'.repeat(3_000_000), { line: 1, col: 1_000_001, length: 1 });
    const u = process.cpuUsage(t);
    expect((u.user + u.system) / 1000).toBeLessThan(100);
    expect(text).toBe(`…${'\\x00'.repeat(25)}…`);
    expect(caret).toBe(`${' '.repeat(41)}^^^^`);
  });
  it('a name of 20 000 characters is shown by its ends in the message and the hint', () => {
    const name = 'a'.repeat(20_000);
    const shown = formatError(new DeltagradError('unknown-function', `${name} is not a built-in`, { line: 1, col: 5, length: name.length }, `define ${name}`), `y = ${name}(x)`);
    expect(shown.length).toBeLessThan(500);
    expect(shown.split('\n')[0]).toBe(`<program>:1:5: error: unknown function: ${'a'.repeat(40)}…${'a'.repeat(12)} (20,000 characters) is not a built-in`);
  });
  it('a byte-order mark at the start is skipped: the program runs, columns count after it', async () => {
    const ok = await cli(['-e', '\uFEFFf = x*y', '--at', 'x=2,y=3']);
    expect(ok.code).toBe(0);
    expect(ok.out).toBe('f = 6\ndx = 3\ndy = 2\n');
    const bad = await cli(['-e', '\uFEFFY[i] = X[i']);
    expect(bad.err).toContain('<program>:1:11: error:');
    expect(caretColumn(bad.err)).toBe(11);
    expect(bad.err).toContain('  1 | Y[i] = X[i\n');
  });
});

describe('numbers too large to be exact', () => {
  it('in a subscript are an error (X[i*1e300*1e300] had a gradient reading dY[(NaN*i+n)/Infinity])', async () => {
    const r = await cli(['-e', 'dims N=3\nX: [N]\nY[i] = X[i*1e300*1e300]']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('<program>:3:17: error: index is not affine: a number in this subscript is too large to be exact');
    expect((await cli(['-e', 'X: [N]\nY[i] = X[i + 99999999999999999999]'])).code).toBe(1);
    expect((await cli(['-e', 'X: [N]\nY[i] = X[i*9007199254740991]'])).code).toBe(0);
  });
  it('in a size, a shape or a reduction range are an error', async () => {
    expect((await cli(['-e', 'dims N=99999999999999999999\nX: [N]\nY[i] = X[i]'])).err).toMatch(/^<program>:1:8: error: bad size: the default of size N must be a whole number of at most 9,007,199,254,740,991/);
    expect((await cli(['-e', 'X: [99999999999999999999]\nY[i] = X[i]'])).err).toMatch(/^<program>:1:5: error: bad size: a dimension must be a whole number of at most/);
    expect((await cli(['-e', 'X: [N]\nY = sum(r:99999999999999999999) X[r]'])).code).toBe(1);
  });
});

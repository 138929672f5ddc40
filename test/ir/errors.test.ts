// Bad programs: every error class exits 1 with line:col, the source line, a caret under the culprit
// and a hint — never a stack trace.
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';

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

// The `derive` command as a user runs it: the real bin script in a child process for the headline
// examples, the in-process entry point for the rest.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { evaluate } from '../src/ir/evaluate.js';
import { derive } from '../src/diff/derive.js';

// the command as its sources are now (the built one, dist/, is tested from the packed tarball: test/package)
const bin = fileURLToPath(new URL('../src/bin/derive.ts', import.meta.url));
const command = ['--import', 'tsx', bin];
const layer = (n: string) => fileURLToPath(new URL(`../examples/layers/${n}.dg`, import.meta.url));

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n') });
  return { code, out, err };
}

describe('derive (the real executable)', () => {
  it('prints dX = Aᵀ·dY for Y = AX + B', () => {
    const r = spawnSync(process.execPath, [...command, '-e', 'Y[i,j] = A[i,k]*X[k,j] + B[i,j]', '--wrt', 'X', '--format', 'matrix'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('dX = Aᵀ·dY');
  });
  it('evaluates f = (x+y)z at (−2, 5, −4) as in seed 002', () => {
    const r = spawnSync(process.execPath, [...command, '-e', 'f = (x+y)*z', '--at', 'x=-2,y=5,z=-4'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['f = -12', 'dx = -4', 'dy = -4', 'dz = 3']);
  });
  it('a bad program exits 1 with a caret, no stack trace', () => {
    const r = spawnSync(process.execPath, [...command, '-e', 'Y[i] = X[i'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/1:11: error/);
    expect(r.stderr).toMatch(/\^/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe('derive | head: a reader that stops early', () => {
  it('ends quietly (exit 0, nothing on stderr) instead of an EPIPE stack trace', () => {
    const r = spawnSync('sh', ['-c', `"${process.execPath}" --import tsx "${bin}" "${layer('conv2d')}" --steps | head -1`], { encoding: 'utf8' });
    expect(r.stdout.trim()).toMatch(/^dX\[n,c,h,w\] = /);
    expect(r.stderr).toBe('');
  });
});

describe('derive > /dev/full: a failure to write (issue 13)', () => {
  /** The real command with stdout (or stderr) on /dev/full, where every write fails with ENOSPC. */
  const onFull = (args: string[], stream: 'stdout' | 'stderr') => {
    const fd = openSync('/dev/full', 'w');
    try {
      return spawnSync(process.execPath, [...command, ...args], { encoding: 'utf8', stdio: ['ignore', stream === 'stdout' ? fd : 'pipe', stream === 'stderr' ? fd : 'pipe'] });
    } finally {
      closeSync(fd);
    }
  };
  it('ends with one line and status 74, not an uncaught ENOSPC stack trace', () => {
    const r = onFull([layer('conv2d'), '--steps'], 'stdout');
    expect(r.status).toBe(74);
    expect(r.stderr).toBe('derive: cannot write the output: ENOSPC: no space left on device\n');
  });
  it('so does --emit ts', () => {
    const r = onFull(['-e', 'f = x*y', '--emit', 'ts'], 'stdout');
    expect(r.status).toBe(74);
    expect(r.stderr).toBe('derive: cannot write the output: ENOSPC: no space left on device\n');
  });
  it('an error that cannot be written ends with status 74 and nothing else', () => {
    const r = onFull(['-e', 'f = x $'], 'stderr');
    expect(r.status).toBe(74);
    expect(r.stdout).toBe('');
  });
});

describe('derive (in process)', () => {
  it('reproduces the sigmoid neuron numbers of seed 002 (0.73, −0.53 …)', async () => {
    const r = await cli([layer('sigmoid_neuron'), '--at', 'w0=2,x0=-1,w1=-3,x1=-2,w2=-3']);
    expect(r.code).toBe(0);
    const v = Object.fromEntries(r.out.trim().split('\n').map((l) => l.split(' = ')).map(([k, x]) => [k, Number(x)]));
    expect(v.q).toBeCloseTo(1.37, 2);
    expect(v.f).toBeCloseTo(0.73, 2);
    expect(v.dq).toBeCloseTo(-0.53, 2);
    expect(v.de).toBeCloseTo(-0.53, 2);
    expect(v.da).toBeCloseTo(0.2, 2);
    expect(v.dw0).toBeCloseTo(-0.2, 2);
    expect(v.dx0).toBeCloseTo(0.39, 2);
    expect(v.dw1).toBeCloseTo(-0.39, 2);
    expect(v.dx1).toBeCloseTo(-0.59, 2);
    expect(v.dw2).toBeCloseTo(0.2, 2);
  });
  it('prints the conv input gradient as a correlation of dY with K̃', async () => {
    const r = await cli([layer('conv2d'), '--wrt', 'X', '--format', 'matrix']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^dX = dilate_T\(dY\) ⋆ K̃/);
    expect(r.out).toContain('K̃[c,f,i,j] = K[f,c,R-1-i,S-1-j]');
  });
  it('--format json has index, matrix and latex per gradient, and steps with --steps', async () => {
    const r = await cli(['-e', 'Y[i,j] = A[i,k]*X[k,j] + B[i,j]', '--format', 'json', '--steps']);
    const j = JSON.parse(r.out);
    expect(Object.keys(j.gradients)).toEqual(['A', 'X', 'B']);
    expect(j.gradients.X).toMatchObject({ index: 'dX[k,j] = sum(i) A[i,k]*dY[i,j]', matrix: 'dX = Aᵀ·dY' });
    expect(j.gradients.X.latex).toContain('\\sum_{i} A_{i,k}');
    expect(j.steps.join('\n')).toContain('δ(k,k\'): k = k\'; the sum over k collapses');
  });
  it('--steps shows the chain rule with δ, each δ eliminated and the matrix pattern (seed 000)', async () => {
    const r = await cli(['-e', 'Y[i,j] = A[i,k]*X[k,j] + B[i,j]', '--wrt', 'X', '--steps', '--format', 'index']);
    const steps = r.out.split('derivation:')[1]!;
    for (const s of ['chain rule', 'sum(k) A[i,k]*δ(k,k\')*δ(j,j\')', 'δ(j,j\'): j = j\'', 'result: dX[k,j] = sum(i) A[i,k]*dY[i,j]', 'dX = Aᵀ·dY'])
      expect(steps).toContain(s);
  });
  it('--steps for a strided conv shows the bound becoming implicit in the K read', async () => {
    const r = await cli([layer('conv2d'), '--wrt', 'X', '--steps', '--format', 'index']);
    expect(r.out).toContain("δ(u*T+i-P,h'): i = h'+P-u*T; the sum over i collapses");
    expect(r.out).toMatch(/reads 0 outside it/);
  });
  it('--emit ts multiplies matrices in WebAssembly SIMD; --no-simd in plain JavaScript', async () => {
    const simd = await cli(['-e', 'Y[i,j] = A[i,k]*X[k,j]', '--emit', 'ts']);
    expect(simd.code).toBe(0);
    expect(simd.out).toContain('$gemm64()');
    const js = await cli(['-e', 'Y[i,j] = A[i,k]*X[k,j]', '--emit', 'ts', '--no-simd', '--dtype', 'float32']);
    expect(js.code).toBe(0);
    expect(js.out).not.toContain('WebAssembly');
    expect(js.out).toContain('Float32Array');
    expect(js.out).toMatch(/\$c33 \+= \$a3 \* \$b3;/);
  });
  it('--help explains the options', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const o of ['--wrt', '--format', '--steps', '--at', '--emit', '--no-simd']) expect(r.out).toContain(o);
  });
});

describe('--at with tensors (audit item 1)', () => {
  it('seeds a tensor output with ones, says so, and prints every element', async () => {
    const r = await cli(['-e', 'dims N=3\nY: [N]\nY[i] = x*(i+1)', '--at', 'x=2']);
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n')).toEqual(['# seed dY = 1 in every element: the gradients below are those of sum(Y)', 'Y = [2, 4, 6]', 'dx = 6']);
  });
  it('prints a whole intermediate and its gradient, not the first element', async () => {
    const r = await cli(['-e', 'dims N=3\nY: [N]\nY[i] = x*i\nL = sum(i) Y[i]', '--at', 'x=2']);
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n')).toEqual(['Y = [0, 2, 4]', 'L = 6', 'dY = [1, 1, 1]', 'dx = 3']);
  });
  it('prints rank 2 as aligned rows with its shape, and elides long dimensions', async () => {
    const r = await cli(['-e', 'dims N=2, M=3\nY: [N, M]\nY[i,j] = x*i + j', '--at', 'x=10']);
    expect(r.out).toContain('Y = [[0, 1, 2],\n     [10, 11, 12]]   (shape [2, 3])\n');
    const long = await cli(['-e', 'dims N=100\nY: [N]\nY[i] = x*i', '--at', 'x=1']);
    expect(long.out).toContain('Y = [0, 1, 2, …, 97, 98, 99]   (shape [100])\n');
  });
  it('a size without a value is a usage error saying how to give one; --at can give it', async () => {
    const r = await cli(['-e', 'dims N\nY: [N]\nY[i] = x*i', '--at', 'x=2']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('derive: --at: the size N has no value: give it one in the program (dims N=3) or in --at (--at x=2,N=3)\n');
    const given = await cli(['-e', 'dims N\nY: [N]\nY[i] = x*i', '--at', 'x=2,N=4']);
    expect(given.code).toBe(0);
    expect(given.out).toContain('Y = [0, 2, 4, 6]\n');
  });
  it('a size value that is not a whole number, or that makes a shape negative, is a usage error', async () => {
    expect((await cli(['-e', 'dims N\nY: [N]\nY[i] = x*i', '--at', 'x=2,N=1.5'])).err).toMatch(/--at gives the size N the value 1.5: a size is a whole number ≥ 0/);
    const r = await cli(['-e', 'dims N=1\nY: [N-3]\nY[i] = x*i', '--at', 'x=1']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('derive: --at: the shape of Y is [-2] for these sizes: every dimension must be a whole number ≥ 0\n');
  });
  it('a tensor input left out is a usage error that names its shape', async () => {
    const r = await cli(['-e', 'dims N=3\nX: [N]\nY[i] = x*X[i]', '--at', 'x=2']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('derive: --at needs a value for the input X, a list of shape [N]\n');
  });
});

describe('--at with tensor values: JSON lists, nested once per dimension', () => {
  it('takes a matrix and integer data, their lengths giving the sizes, and prints what evaluate gives', async () => {
    const src = 'E: [V, D]\nW: [D]\ntok: int[N]\nL = sum(n,d) (E[tok[n],d]*W[d])^2';
    const r = await cli(['-e', src, '--at', 'E=[[1,2],[3,4],[5,6]],tok=[1,1,0,2]', '--at', 'W=[0.5,-1]']);
    expect(r.code).toBe(0);
    const want = evaluate(derive(src).program, { E: [1, 2, 3, 4, 5, 6], W: [0.5, -1], tok: [1, 1, 0, 2] });
    expect(r.out).toBe(`L = ${want.L![0]}\ndE = [[${[...want.dE!.slice(0, 2)].join(', ')}],\n      [${[...want.dE!.slice(2, 4)].join(', ')}],\n      [${[...want.dE!.slice(4)].join(', ')}]]   (shape [3, 2])\ndW = [${[...want.dW!].join(', ')}]\n`);
    // row 1, read twice, counts twice: dE[1,0] = 2·2·(E[1,0]·W[0])·W[0]
    expect(want.dE![2]).toBe(2 * 2 * (3 * 0.5) * 0.5);
  });

  it('JSON output echoes the lists; a size given in dims or --at must agree with the list', async () => {
    const j = JSON.parse((await cli(['-e', 'X: [N, M]\nY[i,j] = X[i,j]*x', '--at', 'X=[[1,2],[3,4]],x=2', '--format', 'json'])).out);
    expect(j.at).toEqual({ X: [[1, 2], [3, 4]], x: 2 });
    expect(j.values.dX).toEqual([[2, 2], [2, 2]]);
    expect(j.values.Y).toEqual([[2, 4], [6, 8]]);
    expect((await cli(['-e', 'dims N=3\nX: [N, M]\nY[i,j] = X[i,j]*x', '--at', 'X=[[1,2],[3,4]],x=2'])).err).toBe('derive: --at gives X a list of shape [2, 2], but X: [N, M] is [3, 2] here\n');
    expect((await cli(['-e', 'X: [N]\nY[i] = X[i]*x', '--at', 'X=[1,2],x=2,N=3'])).err).toBe('derive: --at gives X a list of shape [2], but X: [N] is [3] here\n');
  });

  const bad: [string, string, string, string][] = [
    ['a ragged list', 'X: [N, M]\nY[i,j] = X[i,j]', 'X=[[1,2],[3]]', '--at gives X a ragged list: every row of a level must have the same length'],
    ['too shallow', 'X: [N, M]\nY[i,j] = X[i,j]', 'X=[1,2]', '--at gives X a list nested 1 deep, but X has shape [N, M]: give a list nested 2 deep'],
    ['a list for a scalar', 'f = x*y', 'x=[1],y=2', '--at gives x a list nested 1 deep, but x is a scalar: give a number'],
    ['not JSON', 'X: [N]\nY[i] = X[i]', 'X=[1,,2]', '--at expects name=value pairs separated by commas, a value a number or a JSON list of numbers (X=[[1,2],[3,4]]), found "X=[1,,2]"'],
    ['a string in the list', 'X: [N]\nY[i] = X[i]', 'X=[1,"a"]', '--at expects name=value pairs separated by commas, a value a number or a JSON list of numbers (X=[[1,2],[3,4]]), found "X=[1,"a"]"'],
    ['a list for a size', 'X: [N]\nY[i] = X[i]', 'X=[1],N=[1]', '--at gives the size N the value [1]: a size is a whole number ≥ 0'],
  ];
  it.each(bad)('%s is a usage error', async (_what, program, at, message) => {
    const r = await cli(['-e', program, '--at', at]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`derive: ${message}\n`);
  });

  it('a token outside the table is the interpreter’s error, as a usage error', async () => {
    const r = await cli(['-e', 'E: [V, D]\ntok: int[N]\nY[n,d] = E[tok[n],d]', '--at', 'E=[[1,2],[3,4]],tok=[1,2]']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('derive: --at: Y: tok[1] = 2 makes the subscript tok[n] of E 2, outside [0, 2) (dimension 1 of E)\n');
  });
});

describe('--at warns of NaN and ±Infinity (audit item 2)', () => {
  const cases: [string, string, string][] = [
    ['f = log(x)', 'x=-1', 'f is NaN at x=-1'],
    ['f = x^y', 'x=-2,y=2', 'dy is NaN at x=-2,y=2'],
    ['f = x/0', 'x=0', 'dx is Infinity at x=0'],
  ];
  for (const [program, at, warning] of cases)
    it(`${program} at ${at}`, async () => {
      const r = await cli(['-e', program, '--at', at]);
      expect(r.code).toBe(0);
      expect(r.err).toBe(`derive: warning: ${warning}\n`);
    });
  it('one warning per tensor, naming its first non-finite element', async () => {
    const r = await cli(['-e', 'dims N=4\nY: [N]\nY[i] = log(x - i)', '--at', 'x=0.5']);
    expect(r.out).toContain('Y = [-0.69314718056, NaN, NaN, NaN]');
    expect(r.err).toBe('derive: warning: Y[1] is NaN at x=0.5 (and 2 more non-finite elements of Y)\n');
  });
  it('finite values warn of nothing', async () => {
    expect((await cli(['-e', 'f = (x+y)*z', '--at', 'x=-2,y=5,z=-4'])).err).toBe('');
  });
});

describe('--format json (audit item 3)', () => {
  it('has the whole runnable backward program the docs describe', async () => {
    const r = await cli(['-e', 'Y[i,j] = A[i,k]*X[k,j] + B[i,j]', '--wrt', 'X', '--format', 'json']);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual(['gradients', 'program']);
    expect(j.program).toContain('dY: [I, J]');
    expect(j.program).toContain('dX[k,j] = sum(i) A[i,k]*dY[i,j]');
    const back = evaluate(j.program, { A: [1, 2, 3, 4], X: [1, 0, 0, 1], B: [0, 0, 0, 0], dY: [1, 0, 0, 0] }, { sizes: { I: 2, J: 2, K: 2 } });
    expect([...back.dX!]).toEqual([1, 0, 2, 0]);
  });
  it('with --at prints the values as JSON (nested arrays; NaN as a string) with the seeds and warnings', async () => {
    const r = await cli(['-e', 'dims N=3\nY: [N]\nY[i] = log(x - i)', '--at', 'x=0.5', '--format', 'json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.at).toEqual({ x: 0.5 });
    expect(j.seeds).toEqual({ dY: 1 });
    expect(j.values.Y).toEqual([Math.log(0.5), 'NaN', 'NaN']);
    expect(j.values.dx).toBeCloseTo(2 - 2 - 2 / 3);
    expect(j.warnings).toEqual(['Y[1] is NaN at x=0.5 (and 1 more non-finite element of Y)']);
  });
});

describe('a program with nothing to differentiate (audit item 4)', () => {
  const cases: [string, string, string][] = [
    ['empty', '', '<program>:1:1:'],
    ['only a comment', '# just a comment', '<program>:1:17:'],
    ['declarations, no statement', 'dims N\nX: [N]\n', '<program>:2:7:'],
  ];
  for (const [name, program, at] of cases)
    it(name, async () => {
      const r = await cli(['-e', program]);
      expect(r.code).toBe(1);
      expect(r.out).toBe('');
      expect(r.err).toContain(`${at} error: syntax error: the program assigns no tensor: nothing to differentiate`);
      expect(r.err).toMatch(/\|\s*\^/);
    });
  it('statements that read no input: an error at the first statement, not empty output', async () => {
    for (const program of ['f = 2', 'dims N=3\nY: [N]\nY[i] = i*2']) {
      const r = await cli(['-e', program]);
      expect(r.code).toBe(1);
      expect(r.out).toBe('');
      expect(r.err).toMatch(/^<program>:\d+:1: error: not an input: the program reads no input: there is no gradient to print/);
    }
    // evaluating it is still fine
    expect((await cli(['-e', 'dims N=3\nY: [N]\nY[i] = i*2', '--at', 'N=3'])).out).toContain('Y = [0, 2, 4]');
  });
  it('an empty file too', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'derive-')), 'empty.dg');
    writeFileSync(file, '');
    const r = await cli([file]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${file}:1:1: error: syntax error: the program assigns no tensor`);
  });
});

describe('options that would be ignored are usage errors (audit item 5)', () => {
  const cases: [string, string[], string][] = [
    ['--at with --emit', ['--at', 'x=1', '--emit', 'ts'], '--emit ts prints the kernel module and ignores --at: give one of them'],
    ['--steps with --emit', ['--steps', '--emit', 'ts'], '--emit ts prints the kernel module and ignores --steps: give one of them'],
    ['--no-simd without --emit', ['--no-simd'], '--no-simd applies only to --emit ts'],
    ['--dtype without --emit', ['--dtype', 'float32'], '--dtype applies only to --emit ts'],
    ['--at with --format index', ['--at', 'x=1', '--format', 'index'], '--at prints values, not the index form: drop --format index (or give --format json for the values as JSON)'],
    ['a name given twice in --at', ['--at', 'x=1,x=2'], '--at gives x twice (x=1 and x=2)'],
    ['a name given twice over two --at', ['--at', 'x=1', '--at', 'x=2'], '--at gives x twice (x=1 and x=2)'],
    ['--format given twice', ['--format', 'json', '--format', 'index'], '--format is given twice'],
    ['an empty --wrt', ['--wrt', ','], '--wrt needs at least one input name, e.g. --wrt X,W'],
  ];
  for (const [name, args, message] of cases)
    it(name, async () => {
      const r = await cli(['-e', 'f = x*x', ...args]);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toBe(`derive: ${message}\n`);
    });
  it('--at with --steps prints the values and the derivation', async () => {
    const r = await cli(['-e', 'f = x*y', '--at', 'x=1,y=2', '--steps']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^f = 2\ndx = 2\ndy = 1\n\nderivation:\n {2}── dx ──/);
  });
  it('--at merges two --at options', async () => {
    expect((await cli(['-e', 'f = x*y', '--at', 'x=3', '--at', 'y=2'])).out).toBe('f = 6\ndx = 2\ndy = 3\n');
  });
});

describe('--wrt naming what the program does not have (audit item 6)', () => {
  it('is a usage error naming it and listing the inputs', async () => {
    const r = await cli(['-e', 'f = x*y', '--wrt', 'Q']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('derive: --wrt names Q, which is not a tensor of the program (its inputs: x, y)\n');
  });
});

describe('untrusted programs: bounded reads, limits (issue 13)', () => {
  it('derive /dev/zero stops reading past the longest program and says so (it read 8 GB)', () => {
    const r = spawnSync(process.execPath, [...command, '/dev/zero'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe('/dev/zero:1:1000001: error: program too large: the program is longer than 1,000,000 characters, the limit');
    expect(r.stderr.length).toBeLessThan(400);
  });
  it('so does standard input', () => {
    const r = spawnSync('sh', ['-c', `head -c 5000000 /dev/zero | "${process.execPath}" --import tsx "${bin}" -`], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^-:1:1000001: error: program too large/);
  });
  it('a byte-order mark at the start of standard input is skipped', () => {
    const r = spawnSync(process.execPath, [...command, '-', '--at', 'x=2,y=3'], { input: '\uFEFFf = x*y\n', encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('f = 6\ndx = 3\ndy = 2\n');
  });
  it('--at on sizes whose tensors would not fit in memory is refused, naming the tensor (it reached 13 GB)', async () => {
    const r = await cli(['-e', 'dims I, J\nY: [I, J]\nY[i,j] = x*i*j', '--at', 'x=1,I=30000,J=30000']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^derive: --at: Y has shape \[30000, 30000\], 900,000,000 elements; .*more than the 10,000,000 elements the interpreter holds \(limits.maxElements\)\n$/);
  });
  it('--at runs the derived program of a program nested to the limit (it failed to re-parse, pointing at a line the file does not have)', async () => {
    const r = await cli(['-e', `y = ${'1/(a+'.repeat(199)}1/a${')'.repeat(199)}`, '--at', 'a=1']);
    expect(r.err).toBe('');
    expect(r.out).toBe('y = 0.61803398875\nda = -0.27639320225\n');
  });
});

// The `derive` command as a user runs it: the real bin script in a child process for the headline
// examples, the in-process entry point for the rest.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';

const bin = fileURLToPath(new URL('../bin/derive.mjs', import.meta.url));
const layer = (n: string) => fileURLToPath(new URL(`../examples/layers/${n}.dg`, import.meta.url));

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n') });
  return { code, out, err };
}

describe('derive (the real executable)', () => {
  it('prints dX = Aᵀ·dY for Y = AX + B', () => {
    const r = spawnSync(process.execPath, [bin, '-e', 'Y[i,j] = A[i,k]*X[k,j] + B[i,j]', '--wrt', 'X', '--format', 'matrix'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('dX = Aᵀ·dY');
  });
  it('evaluates f = (x+y)z at (−2, 5, −4) as in seed 002', () => {
    const r = spawnSync(process.execPath, [bin, '-e', 'f = (x+y)*z', '--at', 'x=-2,y=5,z=-4'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['f = -12', 'dx = -4', 'dy = -4', 'dz = 3']);
  });
  it('a bad program exits 1 with a caret, no stack trace', () => {
    const r = spawnSync(process.execPath, [bin, '-e', 'Y[i] = X[i'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/1:11: error/);
    expect(r.stderr).toMatch(/\^/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe('derive | head: a reader that stops early', () => {
  it('ends quietly (exit 0, nothing on stderr) instead of an EPIPE stack trace', () => {
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${bin}" "${layer('conv2d')}" --steps | head -1`], { encoding: 'utf8' });
    expect(r.stdout.trim()).toMatch(/^dX\[n,c,h,w\] = /);
    expect(r.stderr).toBe('');
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

// The planner (src/plan/): contractions ordered pairwise, reductions computed once, intermediates
// named apart from everything the program has — and the plan's program re-parses and runs to the
// same numbers (the gradient checks of every zoo layer, test/diff/layers.test.ts, run it too).
import { describe, expect, it } from 'vitest';
import { compile, derive } from '../../src/index.js';
import { check } from '../../src/ir/check.js';
import { differentiate } from '../../src/diff/differentiate.js';
import { allIndexNames } from '../../src/ir/exprs.js';
import { printStatement } from '../../src/ir/print.js';
import type { Statement } from '../../src/ir/types.js';
import { planProgram, type Plan } from '../../src/plan/planProgram.js';
import { checkGradients, layer } from '../helpers.js';

const planOf = (src: string, sizes?: Record<string, number>): Plan => {
  const p = check(src);
  return planProgram(p, differentiate(p, { unitScalarSeeds: false }), sizes ? { sizes: new Map(Object.entries(sizes)) } : {});
};
const statements = (plan: Plan): Statement[] => [...plan.program.statements, ...plan.gradients.map((g) => g.statement)];
/** The indices a statement's loop nest runs over: its left side and every reduction's. */
const loops = (s: Statement): number => new Set([...s.lhs.map((b) => b.name), ...allIndexNames(s.rhs)]).size;

describe('orderContractions: a product of three matrices, two at a time', () => {
  it('the one-statement chain Y = A·B·C runs two products; every gradient is a product of two', () => {
    const plan = planOf(layer('matrix_chain'));
    expect(plan.program.statements.map(printStatement)).toEqual(['AB[i,k] = sum(j) A[i,j]*B[j,k]', 'Y[i,l] = sum(k) AB[i,k]*C[k,l]']);
    // the loop nests are O(N³); as written, Y and each gradient were O(N⁴)
    for (const s of statements(plan)) expect(loops(s), printStatement(s)).toBeLessThanOrEqual(3);
    expect(Math.max(...check(layer('matrix_chain')).statements.map(loops))).toBe(4);
  });

  it('the gradients share what they can: dY·Cᵀ once for dA and dB, and dC reads the forward AB', () => {
    const plan = planOf(layer('matrix_chain'));
    const temporaries = plan.gradients.filter((g) => g.temporary).map((g) => printStatement(g.statement));
    expect(temporaries).toEqual(['CdY[k,i] = sum(l) C[k,l]*dY[i,l]']);
    expect(plan.gradients.filter((g) => !g.temporary).map((g) => printStatement(g.statement))).toEqual([
      'dA[i,j] = sum(k) B[j,k]*CdY[k,i]',
      'dB[j,k] = sum(i) A[i,j]*CdY[k,i]',
      'dC[k,l] = sum(i) AB[i,k]*dY[i,l]',
    ]);
  });

  it('a summed index no factor reads stays summed around what the pairs leave (it multiplies by its extent)', () => {
    // found by the property suite: sum(r:A) of a product that does not depend on r lost its factor A
    const src = 'dims A=2\nX: [A]\nY1: [A, A, A]\nY1[i,j,k] = sum(r:A) (sum(q, t) X[q]*X[t]*X[i])';
    const plan = planOf(src);
    expect(plan.gradients.map((g) => printStatement(g.statement))).toContain('dX[a] = 2*(sum(i,j,k,r:A,t) X[t]*X[i]*dY1[i,j,k]) + sum(j,k,r:A) XX*dY1[a,j,k]');
    expect(checkGradients(src).errors.X!).toBeLessThan(1e-6);
  });

  it('with the sizes known, the cheaper pair goes first', () => {
    const wide = planOf(layer('matrix_chain'), { I: 2, J: 50, K: 50, L: 500 }).program.statements.map(printStatement);
    const tall = planOf(layer('matrix_chain'), { I: 500, J: 50, K: 50, L: 2 }).program.statements.map(printStatement);
    expect(wide[0]).toBe('AB[i,k] = sum(j) A[i,j]*B[j,k]');
    expect(tall[0]).toBe('BC[j,l] = sum(k) B[j,k]*C[k,l]');
  });

  it('leaves a masked product of two alone: (Y > 0)*dY is one operand, read as the GEMM packs it', () => {
    const plan = planOf(layer('affine_relu'));
    expect(plan.made).toEqual([]);
  });
});

describe('shared and invariant reductions are computed once', () => {
  it('‖AXB − C‖²: the residual’s sum is made in the forward and read by every gradient', () => {
    const plan = planOf(layer('least_squares'));
    expect(plan.program.statements.map(printStatement)).toEqual(['AX[i,m] = sum(k) A[i,k]*X[k,m]', 's[i,j] = sum(m) AX[i,m]*B[m,j]', 'E = sum(i,j) (s[i,j] - C[i,j])^2']);
    for (const s of statements(plan)) expect(loops(s), printStatement(s)).toBeLessThanOrEqual(3);
    for (const g of plan.gradients) expect(printStatement(g.statement)).not.toMatch(/A\[i,k2?\]\*X/);
  });

  it('a reduction inside a sum it does not depend on is made once: Y[i] = Σ_j X[i,j]·Σ_k Z[k]', () => {
    const plan = planOf('dims N=8, K=8\nX: [N, N]\nZ: [K]\nY[i] = sum(j) X[i,j]*(sum(k) Z[k]) + X[i,i]');
    expect(plan.program.statements.map(printStatement)).toEqual(['s = sum(k) Z[k]', 'Y[i] = sum(j) X[i,j]*s + X[i,i]']);
  });

  it('a reduction the kernels compute once anyway stays where it is (a softmax row’s logsumexp)', () => {
    expect(planOf(layer('softmax_xent')).made).toEqual([]);
  });

  it('names its tensors apart from every tensor, gradient, size and index, and from dX of a tensor X', () => {
    const src = 'dims I, J, K, L\nA: [I, J]\nB: [J, K]\nC: [K, L]\nAB: [I, L]\nYAB[i,l] = AB[i,l] + sum(j,k) A[i,j]*B[j,k]*C[k,l]';
    const plan = planOf(src);
    expect(plan.made.map((m) => m.info.name)).toContain('AB2');
    const program = derive(src).program;
    expect(() => check(program)).not.toThrow();
  });
});

describe('the plan, run', () => {
  it('derive shows the plan in its steps, and its program computes the planned values', () => {
    const r = derive(layer('least_squares'), { steps: true });
    const steps = r.steps!.join('\n');
    expect(steps).toContain('── plan: what the program computes once ──');
    expect(steps).toMatch(/order contractions: a loop nest over .* becomes/);
    expect(r.program).toContain('# computed once, for the gradients (deltagrad)\nAX: [I, M]\nAX[i,m] = sum(k) A[i,k]*X[k,m]');
    const c = checkGradients(layer('least_squares'), { I: 3, J: 2, K: 4, M: 5 });
    for (const e of Object.values(c.errors)) expect(e).toBeLessThan(1e-6);
  });

  it('compile runs the planned kernels: forward returns only the program’s tensors; the numbers agree', () => {
    const sizes = { I: 5, J: 3, K: 4, L: 6 };
    const k = compile(layer('matrix_chain'), { sizes });
    const A = Float64Array.from({ length: 15 }, (_, i) => Math.sin(i));
    const B = Float64Array.from({ length: 12 }, (_, i) => Math.cos(i));
    const C = Float64Array.from({ length: 24 }, (_, i) => Math.sin(2 * i + 1));
    const dY = Float64Array.from({ length: 30 }, (_, i) => Math.cos(3 * i));
    expect(Object.keys(k.forward({ A, B, C }))).toEqual(['Y']);
    const g = k.backward({ A, B, C }, { dY });
    // dA = dY·Cᵀ·Bᵀ, by hand
    const dA = new Float64Array(15);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 3; j++) for (let kk = 0; kk < 4; kk++) for (let l = 0; l < 6; l++) dA[i * 3 + j]! += dY[i * 6 + l]! * C[kk * 6 + l]! * B[j * 4 + kk]!;
    for (let q = 0; q < 15; q++) expect(g.dA![q]).toBeCloseTo(dA[q]!, 12);
  });
});

// A generator of random, well-formed matrix-notation programs (LANGUAGE.md v2), for the property
// tests: typed by construction — each expression is built for the shape asked of it (a scalar, a
// vector of N or M, an N×N, N×M or M×N matrix) from operations that give that shape — and driven by a
// Draw (generate.ts), simplest options first, so a shrunk failure is a small program.
//
// Values stay moderate (tanh and sigmoid around products, inverses and log-determinants only of
// M·Mᵀ + N·I, which is well conditioned), so float64 central differences of first and second order
// are accurate.
//
// Worked example (one draw):
//   dims N=2, M=3
//   A: [N, N]
//   B: [N, M]
//   x: [N]
//   T = tanh(A*B) + x*ones(M)'
//   L = x'*A*x + sum(T .* T) + logdet(A*A' + 2*eye(N))
import { Draw } from './generate.js';

export interface GeneratedMatrixProgram {
  readonly source: string;
  readonly seed: number;
}

type Shape = 'scalar' | 'N' | 'M' | 'NN' | 'NM' | 'MN';

const INPUTS: readonly { name: string; shape: Shape; decl: string }[] = [
  { name: 'A', shape: 'NN', decl: '[N, N]' },
  { name: 'B', shape: 'NM', decl: '[N, M]' },
  { name: 'x', shape: 'N', decl: '[N]' },
  { name: 'y', shape: 'N', decl: '[N]' },
  { name: 'z', shape: 'M', decl: '[M]' },
  { name: 's', shape: 'scalar', decl: '[]' },
];

const transposeOf: Record<Shape, Shape | undefined> = { scalar: 'scalar', N: undefined, M: undefined, NN: 'NN', NM: 'MN', MN: 'NM' };

class MatrixBuilder {
  /** names available by shape: inputs and the intermediates assigned so far */
  private readonly names = new Map<Shape, string[]>();

  constructor(private readonly d: Draw) {}

  private have(shape: Shape): string[] {
    return this.names.get(shape) ?? [];
  }

  build(seed: number): GeneratedMatrixProgram {
    const d = this.d;
    const n = 1 + d.int(3);
    const m = 1 + d.int(3);
    const lines = [`dims N=${n}, M=${m}`];
    // always one input of some shape; others by chance
    const picked = INPUTS.filter((t, k) => k === d.int(INPUTS.length) || d.chance(45));
    for (const t of picked.length ? picked : [INPUTS[2]!]) {
      lines.push(`${t.name}: ${t.decl}`);
      this.names.set(t.shape, [...this.have(t.shape), t.name]);
    }
    // an intermediate, sometimes: a vector or a matrix, read later whole (the loss always reads it)
    const intermediate = d.chance(50);
    if (intermediate) {
      const shape = d.pick<Shape>(['N', 'NN', 'NM']);
      lines.push(`T = ${this.expr(shape, 0)}`);
      this.names.set(shape, [...this.have(shape), 'T']);
    }
    lines.push(`L = ${this.expr('scalar', 0)}${intermediate ? ' + sum(tanh(T))' : ''}`);
    return { source: lines.join('\n'), seed };
  }

  private leaf(shape: Shape): string {
    const d = this.d;
    const own = this.have(shape);
    const t = transposeOf[shape] ? this.have(transposeOf[shape]!) : [];
    const options: string[] = [...own, ...t.map((x) => `${x}'`)];
    if (shape === 'scalar') options.push(String(d.pick([0.5, 2, -1.5])));
    if (shape === 'NN') options.push('eye(N)');
    if (shape === 'N' || shape === 'M') options.push(`ones(${shape})`);
    if (shape === 'NM') options.push('ones(N, M)');
    if (shape === 'MN') options.push('ones(M, N)');
    return d.pick(options.length ? options : ['1']);
  }

  /** A bounded expression of the shape. */
  private expr(shape: Shape, depth: number): string {
    const d = this.d;
    if (depth >= 3) return this.leaf(shape);
    // operands parenthesised unless a name, a number or a call: precedence never decides
    const sub = (s: Shape) => {
      const e = this.expr(s, depth + 1);
      return /^[\w.]+('?)$|^\w+\([^()]*\)$/.test(e) ? e : `(${e})`;
    };
    const mat = shape.length === 2;
    const options: (() => string)[] = [
      () => this.leaf(shape),
      () => `${sub(shape)} + ${sub(shape)}`,
      () => `${sub(shape)} - ${sub(shape)}`,
      () => `${sub('scalar')}*${this.leaf(shape)}`,
      () => `tanh(${sub(shape)})`,
      () => `sigmoid(${sub(shape)})`,
      () => `${sub(shape)} .* ${sub(shape)}`,
    ];
    if (shape === 'scalar') {
      const v = d.pick<'N' | 'M'>(['N', 'M']);
      options.push(
        () => `${sub(v)}'*${sub(v)}`,
        () => `${sub(v)}'*${sub(v === 'N' ? 'NN' : 'MN')}*${sub('N')}`,
        () => `tr(${sub('NN')})`,
        () => `sum(${sub(d.pick<Shape>(['N', 'NN', 'NM']))})`,
        () => `norm2(${sub(d.pick<Shape>(['N', 'NM']))})^2`,
        () => `logdet(${this.spd()})`,
        () => `exp(tanh(${sub('scalar')}))`,
      );
    }
    if (shape === 'N') options.push(() => `${sub('NN')}*${sub('N')}`, () => `${sub('NM')}*${sub('M')}`, () => `diag(${sub('NN')})`, () => `inv(${this.spd()})*${sub('N')}`);
    if (shape === 'M') options.push(() => `${sub('MN')}*${sub('N')}`);
    if (mat) {
      const [r, c] = [shape[0]!, shape[1]!];
      options.push(() => `${sub(r as Shape)}*${sub(c as Shape)}'`);
      if (shape === 'NN') options.push(() => `${sub('NM')}*${sub('MN')}`, () => `diag(${sub('N')})`, () => `${sub('NN')}*${sub('NN')}`);
      if (shape === 'NM') options.push(() => `${sub('NN')}*${sub('NM')}`);
      if (shape === 'MN') options.push(() => `${sub('MN')}*${sub('NN')}`);
    }
    return d.pick(options)();
  }

  /** A symmetric positive definite N×N matrix, for logdet and inv: P·Pᵀ + N·I. */
  private spd(): string {
    const p = this.expr('NN', 2);
    return `(${p})*(${p})' + N*eye(N)`;
  }
}

export function generateMatrixProgram(choices: readonly number[], seed: number): GeneratedMatrixProgram {
  return new MatrixBuilder(new Draw(choices)).build(seed);
}

// derive: the pipeline from program text to printed gradients.
//
//   source ─check─▶ IR ─differentiate (δ terms) ─eliminateDeltas─▶ gather form ─simplify─▶ gradients
//          └ render: index form (re-parseable), matrix form, LaTeX, steps
//
// Worked example: derive('Y[i,j] = A[i,k]*X[k,j] + B[i,j]', { wrt: ['X'] }).gradients.X is
//   { index: 'dX[k,j] = sum(i) A[i,k]*dY[i,j]', matrix: 'dX = Aᵀ·dY', latex: '\mathrm{d}X_{k,j} = …' }
import { check } from '../ir/check.js';
import { debugging, trace } from '../ir/debug.js';
import { LINE_BREAK } from '../ir/errors.js';
import { printStatement } from '../ir/print.js';
import { printSize } from '../ir/sizes.js';
import { limitsWith, type Limits } from '../ir/limits.js';
import type { Program, TensorInfo } from '../ir/types.js';
import { DeltagradError } from '../ir/errors.js';
import { planProgram } from '../plan/planProgram.js';
import type { Intermediate } from '../plan/intermediates.js';
import { differentiate, gradName, type GradientStatement } from './differentiate.js';
import { differentiateTwice } from './differentiateTwice.js';
import { renderMatrix } from './renderMatrix.js';
import { statementLatex } from './renderLatex.js';

export interface GradientForms {
  /** the gradient as a statement of the language, e.g. `dX[k,j] = sum(i) A[i,k]*dY[i,j]` */
  readonly index: string;
  /** textbook matrix notation, or null when no pattern applies */
  readonly matrix: string | null;
  readonly latex: string;
  /** the gradient of an intermediate tensor (its own statement, read by later gradients) */
  readonly intermediate?: boolean;
}

export interface HessianForms {
  /** the tensor `program` assigns the block to: the first input's indices, then the second's */
  readonly name: string;
  readonly index: string;
  readonly matrix: string | null;
  readonly latex: string;
}

export interface DeriveResult {
  readonly gradients: Record<string, GradientForms>;
  /** with `order: 2`: every block of the Hessian of the scalar output, keyed "x,y" (x before y in `wrt`) */
  readonly hessians?: Record<string, HessianForms>;
  readonly steps?: string[];
  /** a whole program, re-parseable: the forward program, the seeds and every gradient statement */
  readonly program: string;
}

export interface DeriveOptions {
  readonly wrt?: readonly string[];
  /** 2: the Hessian blocks too (a program with one scalar output) */
  readonly order?: 1 | 2;
  /** write each gradient's matrix form as a re-parseable matrix-notation line in `program` (`# matrix
   *  notation: db = (ones(N)'*dY)'`) also for a program written in index notation */
  readonly matrixNotation?: boolean;
  /** include the derivation step by step */
  readonly steps?: boolean;
  /** raise the limits that bound an untrusted program's cost (limits.ts: maxSourceLength, maxNesting,
   *  maxDepth, and maxNodes, which also bounds the gradients) */
  readonly limits?: Limits;
}

/** the longest index form given a matrix form too (characters) */
const MATRIX_FORM_CHARS = 100_000;

const declaration = (t: TensorInfo, as: string): string => `${as}: [${t.shape.map(printSize).join(', ')}]`;

/** The backward program: forward source, the planner's intermediates of the forward, upstream seeds
 *  dY for tensor outputs, and the gradient statements (with the temporaries they read), each followed
 *  by its matrix-notation form, `# matrix notation: dx = (A + A')*x`, when given one. */
export function backwardProgram(
  p: Program,
  grads: readonly GradientStatement[],
  made: readonly Intermediate[] = [],
  matrixSources: ReadonlyMap<string, string> = new Map(),
): string {
  const info = new Map([...p.tensors, ...made.map((m) => m.info)].map((t) => [t.name, t] as const));
  // one kind of line break: a lone \r or U+2028 (a line break to the lexer) must not pass on as one to a reader that disagrees
  const lines = [p.source.trimEnd().split(LINE_BREAK).join('\n'), ''];
  const forward = made.filter((m) => m.phase === 'forward');
  if (forward.length) {
    lines.push('# computed once, for the gradients (deltagrad)');
    for (const m of forward) lines.push(declaration(m.info, m.info.name), printStatement(m.statement));
    lines.push('');
  }
  lines.push('# gradients (deltagrad)');
  for (const t of p.tensors) if (t.role === 'output' && t.shape.length > 0) lines.push(`${declaration(t, gradName(t.name))}   # upstream gradient (seed)`);
  for (const g of grads) {
    lines.push(g.temporary ? declaration(info.get(g.of)!, g.of) : declaration(info.get(g.of)!, gradName(g.of)));
    lines.push(printStatement(g.statement));
    for (const s of g.scatters ?? []) lines.push(printStatement(s));
    const m = matrixSources.get(g.of);
    if (m) lines.push(`# matrix notation: ${m}`);
  }
  return lines.join('\n') + '\n';
}

const debug = (stage: string, lines: () => string[]) => {
  if (debugging('deltagrad')) trace(stage, lines());
};

export function deriveProgram(p: Program, opts: DeriveOptions = {}): DeriveResult {
  debug('check', () => p.statements.map(printStatement));
  // the derivation's text only when someone reads it (--steps, DEBUG=deltagrad)
  const grads = differentiate(p, { ...(opts.wrt ? { wrt: opts.wrt } : {}), unitScalarSeeds: true, maxNodes: limitsWith(opts.limits).maxNodes, steps: opts.steps === true || debugging('deltagrad') });
  debug('differentiate → eliminateDeltas → simplify', () => grads.flatMap((g) => [...g.steps, '']));
  const info = new Map(p.tensors.map((t) => [t.name, t] as const));
  const shapeOf = (t: string) => info.get(t)?.shape ?? (t.startsWith('d') ? info.get(t.slice(1))?.shape : undefined);
  // entries, made a record at the end: a gradient of an input named __proto__ must be an own key of
  // it (an assignment would set the record's prototype), and toString one that shadows the method
  const gradients: [string, GradientForms][] = [];
  const steps: string[] = [];
  // a matrix-notation program's gradients are also written in matrix notation, in the program
  const matrixNotation = opts.matrixNotation ?? p.statements.some((s) => s.notation === 'matrix');
  const sources = new Map<string, string>();
  for (const g of grads) {
    const index = [g.statement, ...(g.scatters ?? [])].map(printStatement).join('\n');
    // a scatter-add has no matrix form (its LaTeX is the gather form it computes), nor has a formula
    // longer than anyone reads: matching patterns over a million nodes would cost more than deriving it
    const matrix = g.scatters || index.length > MATRIX_FORM_CHARS ? null : renderMatrix(g.statement, shapeOf);
    if (matrixNotation && matrix?.source) sources.set(g.of, matrix.source);
    const intermediate = info.get(g.of)?.role === 'intermediate';
    gradients.push([
      g.of,
      {
        index,
        matrix: matrix?.text ?? null,
        latex: matrix ? `${statementLatex(g.statement)} \\quad\\Longleftrightarrow\\quad ${matrix.latex}` : statementLatex(g.gathered ?? g.statement),
        ...(intermediate ? { intermediate: true } : {}),
      },
    ]);
    if (opts.steps) {
      steps.push(`── ${gradName(g.of)} ──`, ...g.steps);
      if (matrix) steps.push(`matrix pattern (${matrix.pattern}): ${matrix.text}`);
    }
  }
  // the program runs the plan: each value computed once, contractions two at a time (src/plan/)
  const planned = () => {
    const plan = planProgram(p, grads, { steps: opts.steps ?? false });
    debug('planProgram', () => [...plan.made.map((m) => `${m.phase}: ${printStatement(m.statement)}`)]);
    if (opts.steps && plan.steps.length) steps.push('── plan: what the program computes once ──', ...plan.steps);
    return backwardProgram(p, plan.gradients, plan.made, sources);
  };
  if (opts.order === undefined || opts.order === 1) {
    // planned when first read, unless the steps or a trace show the plan: the command prints the
    // gradients only, and planning an 800-layer chain's program cost it ~0.1 s of 1.4
    let program = opts.steps || debugging('deltagrad') ? planned() : undefined;
    return {
      gradients: Object.fromEntries(gradients),
      ...(opts.steps ? { steps } : {}),
      get program() {
        return (program ??= planned());
      },
    };
  }
  if (opts.order !== 2) throw new DeltagradError('bad-option', `order must be 1 or 2, got ${String(opts.order)}`);
  // the Hessian's program has no plan, but its steps show the first order's
  if (opts.steps || debugging('deltagrad')) planned();
  const wrt = opts.wrt ?? p.tensors.filter((t) => t.role === 'input' && t.elem !== 'int').map((t) => t.name);
  // second order differentiates the derivation's own gradient program (no planner temporaries: the
  // Hessian blocks then read only names a reader of the gradients knows), and returns it with them
  const program = backwardProgram(p, grads, [], sources);
  const second = differentiateTwice(p, grads, program, wrt, limitsWith(opts.limits).maxNodes);
  const info2 = new Map(second.program.tensors.map((t) => [t.name, t] as const));
  const blockShapes = new Map(second.blocks.flatMap((b) => [b.statement, ...b.intermediates].filter((s) => !s.scatter).map((s) => [s.tensor, s.lhs.map((l) => l.extent)] as const)));
  const shapeOf2 = (t: string) => info2.get(t)?.shape ?? blockShapes.get(t);
  const hessians: [string, HessianForms][] = [];
  const lines = ['', '# Hessian blocks (deltagrad)'];
  for (const b of second.blocks) {
    // a block with += statements has no matrix form, as a first-order scatter-add has none
    const matrix = b.scatters ? null : renderMatrix(b.statement, shapeOf2);
    hessians.push([
      `${b.of[0]},${b.of[1]}`,
      {
        name: b.name,
        index: [b.statement, ...(b.scatters ?? [])].map(printStatement).join('\n'),
        matrix: matrix?.text ?? null,
        latex: matrix ? `${statementLatex(b.statement)} \\quad\\Longleftrightarrow\\quad ${matrix.latex}` : statementLatex(b.gathered ?? b.statement),
      },
    ]);
    for (const s of [...b.intermediates, b.statement, ...(b.scatters ?? [])]) {
      // a += adds into the tensor its statement above declared; its left side names loops, not a shape
      if (!s.scatter) lines.push(`${s.tensor}: [${s.lhs.map((l) => printSize(l.extent)).join(', ')}]`);
      lines.push(printStatement(s));
    }
    if (opts.steps) {
      steps.push(`── ${b.name} = ∂²${p.tensors.find((t) => t.role === 'output')!.name}/∂${b.of[0]}∂${b.of[1]} ──`, ...b.steps);
      if (matrix) steps.push(`matrix pattern (${matrix.pattern}): ${matrix.text}`);
    }
  }
  return {
    gradients: Object.fromEntries(gradients),
    hessians: Object.fromEntries(hessians),
    ...(opts.steps ? { steps } : {}),
    program: program + lines.join('\n') + '\n',
  };
}

/** The library entry point: derive every gradient of a program given as text. */
export function derive(source: string, opts: DeriveOptions = {}): DeriveResult {
  return deriveProgram(check(source, opts.limits), opts);
}

// analyze: program text → what the page shows — the gradients with their derivation, or the one
// error to mark in the editor. Pure: no page, no editor (the tests run it in Node).
//
// Worked example: analyze('Y[i,j] = A[i,k]*X[k,j] + B[i,j]', { wrt: ['X'] }) is
//   { kind: 'derived', inputs: [A, X, B (rank 2 each)], wrt: ['X'],
//     result: { gradients: { X: { matrix: 'dX = Aᵀ·dY', … } }, steps: ['── dX ──', …], program } }
// and analyze('Y[i] = X[i') is { kind: 'error', error: <syntax error at 1:11> }.
import { DeltagradError, deriveProgram, parse, type DeriveResult, type Program } from '../../src/index.js';
import { printSize } from '../../src/ir/sizes.js';

export interface InputInfo {
  readonly name: string;
  /** the shape as the program writes it, e.g. `[N, C, H, W]`; `[]` for a scalar */
  readonly shape: string;
  readonly rank: number;
}

/** One block of the Hessian (LANGUAGE.md v2: derive(src, { order: 2 }).hessians). */
export interface HessianBlock {
  readonly name: string;
  readonly index: string;
  readonly matrix: string | null;
  readonly latex: string;
}

export type Analysis =
  | {
      readonly kind: 'derived';
      readonly source: string;
      readonly program: Program;
      readonly inputs: readonly InputInfo[];
      /** the inputs differentiated by */
      readonly wrt: readonly string[];
      readonly result: DeriveResult;
      readonly hessians?: Readonly<Record<string, HessianBlock>>;
    }
  /** a valid program with nothing to show: no statement, no input, or no input chosen */
  | { readonly kind: 'nothing'; readonly source: string; readonly program?: Program; readonly inputs: readonly InputInfo[]; readonly message: string }
  /** a located error of the program (line:col, hint) */
  | { readonly kind: 'error'; readonly source: string; readonly error: DeltagradError }
  /** deltagrad failed (a bug of ours, not the program's): the message, unlocated */
  | { readonly kind: 'failure'; readonly source: string; readonly message: string };

export interface AnalyzeOptions {
  /** the inputs to differentiate by (unknown names are dropped); undefined: every input */
  readonly wrt?: readonly string[];
  /** ask for the Hessian blocks too (only where the library has second order) */
  readonly hessian?: boolean;
}

export const inputsOf = (p: Program): InputInfo[] =>
  p.tensors.filter((t) => t.role === 'input').map((t) => ({ name: t.name, shape: `[${t.shape.map(printSize).join(', ')}]`, rank: t.shape.length }));

export function analyze(source: string, opts: AnalyzeOptions = {}): Analysis {
  try {
    const program = parse(source);
    const inputs = inputsOf(program);
    if (!program.statements.length) return { kind: 'nothing', source, program, inputs, message: 'The program assigns no tensor yet: write a statement, e.g. Y[i,j] = A[i,k]*X[k,j] + B[i,j] or f = (x+y)*z.' };
    if (!inputs.length) return { kind: 'nothing', source, program, inputs, message: 'The program reads no input, so there is no gradient to show: a name that is neither declared nor a size is a scalar input, e.g. f = 2*x.' };
    const wrt = opts.wrt ? inputs.map((i) => i.name).filter((n) => opts.wrt!.includes(n)) : inputs.map((i) => i.name);
    if (!wrt.length) return { kind: 'nothing', source, program, inputs, message: 'No input is chosen: tick at least one under “Differentiate with respect to”.' };
    const deriveOptions = { wrt, steps: true, ...(opts.hessian ? { order: 2 } : {}) };
    const result = deriveProgram(program, deriveOptions) as DeriveResult & { hessians?: Record<string, HessianBlock> };
    return { kind: 'derived', source, program, inputs, wrt, result, ...(result.hessians ? { hessians: result.hessians } : {}) };
  } catch (e) {
    if (e instanceof DeltagradError) return { kind: 'error', source, error: e };
    return { kind: 'failure', source, message: e instanceof Error ? e.message : String(e) };
  }
}

/** The derivation split per gradient: derive's steps are one list with a `── dX ──` line before each. */
export function stepsByGradient(steps: readonly string[]): { gradient: string; lines: string[] }[] {
  const out: { gradient: string; lines: string[] }[] = [];
  for (const line of steps) {
    const head = /^── (.+) ──$/.exec(line);
    if (head) out.push({ gradient: head[1]!, lines: [] });
    else if (out.length) out[out.length - 1]!.lines.push(line);
    else out.push({ gradient: '', lines: [line] });
  }
  return out;
}

/** derive's LaTeX of a gradient is `index form \quad\Longleftrightarrow\quad matrix form` when a matrix
 *  pattern applies: the page sets the two on lines of their own (a phone is too narrow for both). */
export function latexForms(latex: string): { index: string; matrix: string | null } {
  const SEPARATOR = ' \\quad\\Longleftrightarrow\\quad ';
  const at = latex.indexOf(SEPARATOR);
  return at < 0 ? { index: latex, matrix: null } : { index: latex.slice(0, at), matrix: latex.slice(at + SEPARATOR.length) };
}

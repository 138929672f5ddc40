// The `derive` command line: read a program, print its gradients (index, matrix, LaTeX, JSON),
// the derivation step by step, values at a point, or the emitted TypeScript module.
//
// Worked example:  derive -e 'f = (x+y)*z' --at x=-2,y=5,z=-4
//   f = -12
//   dx = -4   dy = -4   dz = 3   (one per line)
// and with a tensor output, seeded with ones:  derive -e $'dims N=3\nY: [N]\nY[i] = x*i' --at x=2
//   # seed dY = 1 in every element: the gradients below are those of sum(Y)
//   Y = [0, 2, 4]
//   dx = 3
import { createReadStream } from 'node:fs';
import { check } from './ir/check.js';
import { DeltagradError, formatError, LINE_BREAK } from './ir/errors.js';
import { InputError } from './ir/inputError.js';
import { DEFAULT_LIMITS, DERIVED_LIMITS } from './ir/limits.js';
import type { Program } from './ir/types.js';
import { deriveProgram, type DeriveResult } from './diff/derive.js';
import { parsePoint, PointError, pointInputs, shapeMismatch, type PointValue } from './cliPoint.js';

const HELP = `derive — symbolic gradients of index-expression programs

usage: derive [FILE | -e PROGRAM] [options]

  FILE               a program file ('-' reads standard input)
  -e, --eval PROGRAM a program given inline, e.g. -e 'Y[i,j] = A[i,k]*X[k,j] + B[i,j]'
  --wrt X,W          differentiate with respect to these inputs only (default: every input)
  --format F         index | matrix | latex | json | all   (default: all)
                     json: {"gradients", "program" (the whole backward program, runnable), "steps"}
  --steps            show the derivation: chain rule with δ, each δ eliminated, each sum collapsed
  --order 2          the Hessian too (a program with one scalar output): every block, after the
                     gradients, in each format; json adds "hessians"
  --at x=1,y=2       evaluate the outputs and every gradient at a point and print the numbers; a
                     tensor is a JSON list nested once per dimension (--at 'X=[[1,2],[3,4]],tok=[0,2]'),
                     whose lengths give the sizes its shape names; a size without a value in the
                     program takes one here too (--at x=2,N=3).
                     Tensor outputs are seeded with ones (dY = 1: the gradients of the sum of Y).
                     Takes --wrt, --steps and --format json (a JSON object of the values)
  --emit ts          print the TypeScript module of forward/backward kernels
  --dtype float64    float32 | float64, for --emit
  --no-simd          for --emit: matrix products in plain JavaScript loops, no WebAssembly SIMD
                     (for runtimes older than Node 16.4, Chrome 91, Firefox 89, Safari 16.4)
  -h, --help         this help

exit status: 0 on success, 1 for a bad program (with line:col, a caret and a hint), 2 for bad usage
(an unknown option, options that do not go together, --wrt or --at naming what the program does not have),
74 when the output cannot be written (a full disk), 70 for an internal error.
A value of --at that is NaN or ±Infinity is printed as it is, with a warning on stderr; the status stays 0.

examples:
  derive -e 'Y[i,j] = A[i,k]*X[k,j] + B[i,j]' --wrt X --format matrix
  derive -e 'f = (x+y)*z' --at x=-2,y=5,z=-4
  derive -e $'E: [V, D]\\ntok: int[N]\\nL = sum(n,d) E[tok[n],d]^2' --at 'E=[[1,2],[3,4]],tok=[1,1,0]'
  derive -e $'dims N=3\\nA: [N, N]\\nx: [N]\\nf = x\\'*A*x' --order 2
  derive examples/layers/conv2d.dg --steps`;

class UsageError extends Error {}

/** A failure of deltagrad, not of the program or the command line (exit 70): `cause` is what failed. */
class InternalError extends Error {
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
  }
}

/** The first line of what was thrown, whatever it was (a rejection need not be an Error). */
function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n', 1)[0]!.trim() || (e instanceof Error ? e.name : 'an unknown error');
}

type Format = 'index' | 'matrix' | 'latex' | 'json' | 'all';

interface Args {
  file?: string;
  program?: string;
  wrt?: string[];
  format: Format;
  steps: boolean;
  at?: Record<string, PointValue>;
  emit?: string;
  dtype?: 'float32' | 'float64';
  simd: boolean;
  order: 1 | 2;
  help: boolean;
  /** the options given on the command line (long names), to tell a default from a choice */
  given: Set<string>;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { format: 'all', steps: false, simd: true, order: 1, help: false, given: new Set() };
  const value = (i: number, flag: string) => {
    const v = argv[i + 1];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  // an option that takes one value, given twice, would otherwise keep only the last
  const once = (flag: string) => {
    if (a.given.has(flag)) throw new UsageError(`${flag} is given twice`);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const flag = arg === '-e' ? '--eval' : arg === '-h' ? '--help' : arg;
    switch (flag) {
      case '--help':
        a.help = true;
        break;
      case '--eval':
        once(flag);
        a.program = value(i++, arg);
        break;
      case '--wrt': {
        const names = value(i++, arg)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        if (!names.length) throw new UsageError('--wrt needs at least one input name, e.g. --wrt X,W');
        a.wrt = [...new Set([...(a.wrt ?? []), ...names])];
        break;
      }
      case '--format': {
        once(flag);
        const f = value(i++, arg);
        if (!['index', 'matrix', 'latex', 'json', 'all'].includes(f)) throw new UsageError(`--format takes index, matrix, latex, json or all, not "${f}"`);
        a.format = f as Format;
        break;
      }
      case '--steps':
        a.steps = true;
        break;
      case '--order': {
        once(flag);
        const o = value(i++, arg);
        if (o !== '1' && o !== '2') throw new UsageError(`--order takes 1 or 2, not "${o}"`);
        a.order = o === '2' ? 2 : 1;
        break;
      }
      case '--at':
        a.at = parsePoint(value(i++, arg), a.at);
        break;
      case '--emit':
        once(flag);
        a.emit = value(i++, arg);
        if (a.emit !== 'ts') throw new UsageError(`--emit takes ts, not "${a.emit}"`);
        break;
      case '--no-simd':
        a.simd = false;
        break;
      case '--dtype': {
        once(flag);
        const d = value(i++, arg);
        if (d !== 'float32' && d !== 'float64') throw new UsageError(`--dtype takes float32 or float64, not "${d}"`);
        a.dtype = d;
        break;
      }
      default:
        if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg} (see derive --help)`);
        if (a.file !== undefined) throw new UsageError(`more than one program file: ${a.file}, ${arg}`);
        a.file = arg;
    }
    if (flag.startsWith('--')) a.given.add(flag);
  }
  return a;
}

/** Options that would be silently ignored in this combination are usage errors instead. */
function rejectIgnoredOptions(a: Args): void {
  if (a.emit) {
    for (const f of ['--at', '--format', '--steps', '--wrt', '--order'])
      if (a.given.has(f)) throw new UsageError(`--emit ts prints the kernel module and ignores ${f}: give one of them`);
  } else {
    for (const f of ['--dtype', '--no-simd']) if (a.given.has(f)) throw new UsageError(`${f} applies only to --emit ts`);
  }
  if (a.at && a.given.has('--format') && a.format !== 'json' && a.format !== 'all')
    throw new UsageError(`--at prints values, not the ${a.format} form: drop --format ${a.format} (or give --format json for the values as JSON)`);
}

/** A program without a statement has nothing to differentiate: an error at its end, where one belongs. */
function rejectEmpty(p: Program): void {
  if (p.statements.length) return;
  const lines = p.source.split(LINE_BREAK);
  let line = lines.length;
  while (line > 1 && !lines[line - 1]!.trim()) line--;
  const col = lines[line - 1]!.trim() ? [...lines[line - 1]!].length + 1 : 1;
  throw new DeltagradError(
    'syntax',
    'the program assigns no tensor: nothing to differentiate',
    { line, col, length: 1 },
    'add a statement, e.g. `Y[i] = 2*X[i]` or `f = (x+y)*z`',
  );
}

/** `--wrt Q` for a Q the program does not have is bad usage: there is no place in the program to point at. */
function rejectUnknownWrt(p: Program, wrt: readonly string[] | undefined): void {
  const inputs = p.tensors.filter((t) => t.role === 'input').map((t) => t.name);
  for (const w of wrt ?? [])
    if (!p.tensors.some((t) => t.name === w)) throw new UsageError(`--wrt names ${w}, which is not a tensor of the program (its inputs: ${inputs.join(', ') || '(none)'})`);
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(12)));
}

const product = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** A dimension longer than LONG shows its first and last EDGE elements around a `…`. */
const LONG = 8;
const EDGE = 3;

function shownPositions(n: number): (number | null)[] {
  const all = Array.from({ length: n }, (_, i) => i);
  return n <= LONG ? all : [...all.slice(0, EDGE), null, ...all.slice(n - EDGE)];
}

/** Nested brackets, one innermost row per line, aligned under the opening bracket at column `col`. */
function formatNested(values: Float64Array, shape: readonly number[], d: number, offset: number, col: number): string {
  const stride = product(shape.slice(d + 1));
  const last = d === shape.length - 1;
  const items = shownPositions(shape[d]!).map((i) =>
    i === null ? '…' : last ? fmt(values[offset + i]!) : formatNested(values, shape, d + 1, offset + i * stride, col + 1),
  );
  return `[${items.join(last ? ', ' : `,\n${' '.repeat(col + 1)}`)}]`;
}

/** `f = 3`, `Y = [0, 2, 4]`, or rows on lines of their own with a shape note for rank ≥ 2 or elided tensors. */
function formatTensor(name: string, values: Float64Array, shape: readonly number[]): string {
  const head = `${name} = `;
  if (shape.length === 0) return head + fmt(values[0]!);
  const note = shape.length > 1 || shape.some((n) => n > LONG) ? `   (shape [${shape.join(', ')}])` : '';
  return head + formatNested(values, shape, 0, 0, head.length) + note;
}

/** Nested arrays for JSON; NaN and ±Infinity, which JSON lacks, as the strings "NaN", "Infinity". */
function toJson(values: Float64Array, shape: readonly number[], d = 0, offset = 0): unknown {
  if (d === shape.length) {
    const v = values[offset]!;
    return Number.isFinite(v) ? v : String(v);
  }
  const stride = product(shape.slice(d + 1));
  return Array.from({ length: shape[d]! }, (_, i) => toJson(values, shape, d + 1, offset + i * stride));
}

/** `Y[1,2]` for the flat offset 5 of a [2, 3] tensor; `f` for a scalar. */
function elementName(name: string, shape: readonly number[], offset: number): string {
  if (shape.length === 0) return name;
  const idx = shape.map((_, d) => Math.floor(offset / product(shape.slice(d + 1))) % shape[d]!);
  return `${name}[${idx.join(',')}]`;
}

/** One warning per tensor holding NaN or ±Infinity: a value that is not a number must not pass silently. */
function nonFiniteWarnings(values: Record<string, Float64Array>, shapes: Record<string, number[]>, point: string): string[] {
  return Object.entries(values).flatMap(([name, v]) => {
    const bad = Array.from(v.keys()).filter((i) => !Number.isFinite(v[i]!));
    if (!bad.length) return [];
    const more = bad.length > 1 ? ` (and ${bad.length - 1} more non-finite ${bad.length > 2 ? 'elements' : 'element'} of ${name})` : '';
    return [`${elementName(name, shapes[name]!, bad[0]!)} is ${v[bad[0]!]} at ${point}${more}`];
  });
}

interface PointValues {
  /** tensor outputs whose seed is all ones */
  readonly seeded: string[];
  readonly values: Record<string, Float64Array>;
  readonly shapes: Record<string, number[]>;
  readonly warnings: string[];
}

/** Every size needs a value to evaluate: from `dims N=3` or from --at. */
function rejectUnsized(p: Program, sizes: ReadonlyMap<string, number>, at: Record<string, PointValue>): void {
  const unsized = p.sizes.map((s) => s.name).filter((n) => !sizes.has(n));
  if (!unsized.length) return;
  const pairs = unsized.map((n) => `${n}=3`);
  const point = [...Object.entries(at).map(([k, v]) => `${k}=${JSON.stringify(v)}`), ...pairs].join(',');
  throw new UsageError(
    `--at: ${unsized.length === 1 ? `the size ${unsized[0]} has` : `the sizes ${unsized.join(', ')} have`} no value: give ${unsized.length === 1 ? 'it one' : 'them values'} in the program (dims ${pairs.join(', ')}) or in --at (--at ${point})`,
  );
}

/** Run the backward program at the point: inputs from --at, ones as the seeds of tensor outputs. */
async function evaluateAt(p: Program, result: DeriveResult, at: Record<string, PointValue>): Promise<PointValues> {
  // loaded here only: the interpreter and its linear algebra serve --at alone
  const { checkElements, resolveSizes, run, shapeOf } = await import('./ir/evaluate.js');
  const { inputs, sizes, dims } = pointInputs(p, at);
  // a program deltagrad wrote: bounded by the limits its source met, and nested deeper than it
  let back: Program;
  try {
    back = check(result.program, DERIVED_LIMITS);
  } catch (e) {
    // not the user's to fix, and its location is in text they never saw
    throw new Error(`the derived program does not check: ${e instanceof Error ? e.message : String(e)}`);
  }
  const resolved = resolveSizes(back, {}, sizes);
  rejectUnsized(back, resolved, at);
  // every shape first, in the order tensors appear: a bad size is reported on Y, not on its seed dY
  const shapes = Object.fromEntries(back.tensors.map((t) => [t.name, shapeOf(back, t.name, resolved)]));
  for (const [name, d] of Object.entries(dims)) {
    const wrong = shapeMismatch(p, name, d, shapes[name]!);
    if (wrong) throw new UsageError(wrong);
  }
  // before the seeds are allocated: they are as large as the outputs
  checkElements(back, new Map(Object.entries(shapes)), DEFAULT_LIMITS.maxElements);
  const seeded = p.tensors.filter((t) => t.role === 'output' && t.shape.length > 0).map((t) => t.name);
  const seeds = Object.fromEntries(seeded.map((y) => [`d${y}`, new Float64Array(product(shapes[`d${y}`]!)).fill(1)]));
  const values = run(back, { ...inputs, ...seeds }, sizes);
  const point = Object.entries(at).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',');
  return { seeded, values, shapes, warnings: nonFiniteWarnings(values, shapes, point) };
}

/** The comment line that says what the gradients are of when tensor outputs are seeded with ones. */
function seedNote(p: Program, seeded: readonly string[]): string | undefined {
  if (!seeded.length) return undefined;
  const of = p.tensors.filter((t) => t.role === 'output').map((t) => (seeded.includes(t.name) ? `sum(${t.name})` : t.name));
  const seeds = seeded.map((y) => `d${y}`).join(', ');
  return `# ${seeded.length > 1 ? 'seeds' : 'seed'} ${seeds} = 1 in every element: the gradients below are those of ${of.join(' + ')}`;
}

function printSteps(io: Io, steps: readonly string[] | undefined): void {
  if (!steps) return;
  io.out(['', 'derivation:', ...steps.map((s) => `  ${s}`)].join('\n'));
}

/** A program file or standard input ('-'), read in chunks and no further than the longest program
 *  check accepts (UTF-8 takes at most 3 bytes a character, so more bytes than that are more
 *  characters): `derive /dev/zero` is an error at once, not 8 GB of zeros. */
async function readSource(path: string): Promise<string> {
  const limit = 3 * DEFAULT_LIMITS.maxSourceLength + 3;
  const stream = path === '-' ? process.stdin : createReadStream(path);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    total += chunk.length;
    if (total > limit) break; // leaving the loop closes the stream
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface Io {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const processIo: Io = {
  out: (s) => void process.stdout.write(s + '\n'),
  err: (s) => void process.stderr.write(s + '\n'),
};

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let source = '';
  let fileLabel = '<program>';
  try {
    const args = parseArgs(argv);
    if (args.help) {
      io.out(HELP);
      return 0;
    }
    if (args.program !== undefined && args.file !== undefined) throw new UsageError('give a program file or -e PROGRAM, not both');
    if (args.program !== undefined) source = args.program;
    else if (args.file !== undefined) {
      fileLabel = args.file;
      try {
        source = await readSource(args.file);
      } catch (e) {
        throw new UsageError(`cannot read ${args.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    } else throw new UsageError('no program: give a FILE or -e PROGRAM (see derive --help)');
    rejectIgnoredOptions(args);
    const program = check(source);
    rejectEmpty(program);
    if (args.emit) {
      let text: string;
      try {
        // loaded here only: the back end (lowering, passes, printers) is most of the package, and
        // only --emit needs it
        const { emit } = await import('./codegen/compile.js');
        text = emit(source, { ...(args.dtype ? { dtype: args.dtype } : {}), simd: args.simd });
      } catch (e) {
        if (e instanceof DeltagradError) throw e;
        // the code generator failed: a bug of ours, whose message may run to many lines
        throw new InternalError('--emit ts failed', e);
      }
      io.out(text.trimEnd());
      return 0;
    }
    rejectUnknownWrt(program, args.wrt);
    const result = deriveProgram(program, { ...(args.wrt ? { wrt: args.wrt } : {}), steps: args.steps, ...(args.order === 2 ? { order: 2 as const } : {}) });

    if (args.at) {
      const r = await evaluateAt(program, result, args.at);
      r.warnings.forEach((w) => io.err(`derive: warning: ${w}`));
      if (args.format === 'json') {
        const values = Object.fromEntries(Object.entries(r.values).map(([n, v]) => [n, toJson(v, r.shapes[n]!)]));
        const seeds = Object.fromEntries(r.seeded.map((y) => [`d${y}`, 1]));
        io.out(JSON.stringify({ at: args.at, seeds, values, warnings: r.warnings, ...(result.steps ? { steps: result.steps } : {}) }, null, 2));
        return 0;
      }
      const note = seedNote(program, r.seeded);
      if (note) io.out(note);
      for (const [name, v] of Object.entries(r.values)) io.out(formatTensor(name, v, r.shapes[name]!));
      printSteps(io, result.steps);
      return 0;
    }

    const entries = Object.entries(result.gradients);
    if (!entries.length) {
      // `f = 2`: a valid program, but printing nothing would look like a failure
      const first = program.statements[0]!;
      throw new DeltagradError('not-an-input', 'the program reads no input: there is no gradient to print', { line: first.line, col: 1, length: first.tensor.length }, 'a name that is neither declared nor a size is a scalar input, e.g. `f = 2*x`');
    }
    const blocks = Object.entries(result.hessians ?? {});
    // the lines written at once: a write per line cost an 800-layer chain's 9 600 lines 40 ms
    const lines: string[] = [];
    switch (args.format) {
      case 'json':
        io.out(JSON.stringify({ gradients: result.gradients, ...(result.hessians ? { hessians: result.hessians } : {}), program: result.program, ...(result.steps ? { steps: result.steps } : {}) }, null, 2));
        return 0;
      case 'index':
        [...entries, ...blocks].forEach(([, g]) => lines.push(g.index));
        break;
      case 'matrix':
        [...entries, ...blocks].forEach(([, g]) => lines.push(g.matrix ?? `${g.index}   (no matrix pattern applies; index form shown)`));
        break;
      case 'latex':
        [...entries, ...blocks].forEach(([, g]) => lines.push(g.latex));
        break;
      case 'all':
        entries.forEach(([, g], i) => {
          if (i) lines.push('');
          lines.push(g.index, `  matrix: ${g.matrix ?? '(no matrix pattern applies)'}`, `  latex:  ${g.latex}`);
        });
        blocks.forEach(([key, h]) => {
          lines.push('', `# Hessian block ${key}: ${h.name}`, h.index, `  matrix: ${h.matrix ?? '(no matrix pattern applies)'}`, `  latex:  ${h.latex}`);
        });
        break;
    }
    if (lines.length) io.out(lines.join('\n'));
    printSteps(io, result.steps);
    return 0;
  } catch (e) {
    if (e instanceof DeltagradError) {
      io.err(formatError(e, source, fileLabel));
      return 1;
    }
    if (e instanceof UsageError || e instanceof PointError) {
      io.err(`derive: ${e.message}`);
      return 2;
    }
    if (e instanceof InputError) {
      // the interpreter refused the point (e.g. sizes that make a shape negative): the user's to fix
      io.err(`derive: --at: ${e.message}`);
      return 2;
    }
    // one line: the first of the message (an internal error's may run to a code frame and a stack);
    // the rest, and the stack, with DEBUG=deltagrad
    const what = e instanceof InternalError ? `${e.message}: ${firstLine(e.cause)}` : firstLine(e);
    const cause = e instanceof InternalError ? e.cause : e;
    const details = cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
    io.err(`derive: internal error: ${what}${process.env.DEBUG?.includes('deltagrad') ? `\n${details}` : ' (set DEBUG=deltagrad for details)'}`);
    return 70;
  }
}

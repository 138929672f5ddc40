// The `derive` command line: read a program, print its gradients (index, matrix, LaTeX, JSON),
// the derivation step by step, values at a point, or the emitted TypeScript module.
//
// Worked example:  derive -e 'f = (x+y)*z' --at x=-2,y=5,z=-4
//   f = -12
//   dx = -4   dy = -4   dz = 3   (one per line)
import { readFileSync } from 'node:fs';
import { check } from './ir/check.js';
import { DeltagradError, formatError } from './ir/errors.js';
import { run } from './ir/evaluate.js';
import { deriveProgram } from './diff/derive.js';

const HELP = `derive — symbolic gradients of index-expression programs

usage: derive [FILE | -e PROGRAM] [options]

  FILE               a program file ('-' reads standard input)
  -e, --eval PROGRAM a program given inline, e.g. -e 'Y[i,j] = A[i,k]*X[k,j] + B[i,j]'
  --wrt X,W          differentiate with respect to these inputs only (default: every input)
  --format F         index | matrix | latex | json | all   (default: all)
  --steps            show the derivation: chain rule with δ, each δ eliminated, each sum collapsed
  --at x=1,y=2       evaluate the outputs and every gradient at a point (scalar inputs)
  --emit ts          print the TypeScript module of forward/backward kernels
  --dtype float64    float32 | float64, for --emit
  --no-simd          for --emit: matrix products in plain JavaScript loops, no WebAssembly SIMD
                     (for runtimes older than Node 16.4, Chrome 91, Firefox 89, Safari 16.4)
  -h, --help         this help

exit status: 0 on success, 1 for a bad program (with line:col, a caret and a hint), 2 for bad usage.

examples:
  derive -e 'Y[i,j] = A[i,k]*X[k,j] + B[i,j]' --wrt X --format matrix
  derive -e 'f = (x+y)*z' --at x=-2,y=5,z=-4
  derive examples/layers/conv2d.dg --steps`;

class UsageError extends Error {}

interface Args {
  file?: string;
  program?: string;
  wrt?: string[];
  format: 'index' | 'matrix' | 'latex' | 'json' | 'all';
  steps: boolean;
  at?: Record<string, number>;
  emit?: string;
  sizes?: Record<string, number>;
  dtype?: 'float32' | 'float64';
  simd: boolean;
  help: boolean;
}

function parsePairs(text: string, what: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(',')) {
    const m = /^\s*([\p{L}_][\p{L}\p{N}_]*)\s*=\s*(\S+)\s*$/u.exec(part);
    const v = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(v)) throw new UsageError(`${what} expects name=number pairs separated by commas, found "${part}"`);
    out[m[1]!] = v;
  }
  return out;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { format: 'all', steps: false, simd: true, help: false };
  const value = (i: number, flag: string) => {
    const v = argv[i + 1];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    switch (arg) {
      case '-h':
      case '--help':
        a.help = true;
        break;
      case '-e':
      case '--eval':
        a.program = value(i++, arg);
        break;
      case '--wrt':
        a.wrt = value(i++, arg)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        break;
      case '--format': {
        const f = value(i++, arg);
        if (!['index', 'matrix', 'latex', 'json', 'all'].includes(f)) throw new UsageError(`--format takes index, matrix, latex, json or all, not "${f}"`);
        a.format = f as Args['format'];
        break;
      }
      case '--steps':
        a.steps = true;
        break;
      case '--at':
        a.at = parsePairs(value(i++, arg), '--at');
        break;
      case '--emit':
        a.emit = value(i++, arg);
        if (a.emit !== 'ts') throw new UsageError(`--emit takes ts, not "${a.emit}"`);
        break;
      case '--sizes':
        a.sizes = parsePairs(value(i++, arg), '--sizes');
        break;
      case '--no-simd':
        a.simd = false;
        break;
      case '--dtype': {
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
  }
  return a;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(12)));
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
        source = readFileSync(args.file === '-' ? 0 : args.file, 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read ${args.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    } else throw new UsageError('no program: give a FILE or -e PROGRAM (see derive --help)');

    const program = check(source);
    if (args.emit) {
      // loaded here only: ts-morph and prettier cost more than deriving, and only --emit needs them
      const { emitAsync } = await import('./codegen/compile.js');
      io.out((await emitAsync(source, { ...(args.dtype ? { dtype: args.dtype } : {}), simd: args.simd })).trimEnd());
      return 0;
    }
    const result = deriveProgram(program, { ...(args.wrt ? { wrt: args.wrt } : {}), steps: args.steps });

    if (args.at) {
      const scalarInputs = program.tensors.filter((t) => t.role === 'input');
      const tensorInput = scalarInputs.find((t) => t.shape.length > 0);
      if (tensorInput) throw new UsageError(`--at evaluates programs whose inputs are scalars; ${tensorInput.name} has ${tensorInput.shape.length} dimensions`);
      for (const t of scalarInputs) if (!(t.name in args.at)) throw new UsageError(`--at needs a value for the input ${t.name}`);
      for (const k of Object.keys(args.at)) if (!scalarInputs.some((t) => t.name === k)) throw new UsageError(`--at names ${k}, which is not an input (inputs: ${scalarInputs.map((t) => t.name).join(', ')})`);
      const values = run(check(result.program), args.at);
      for (const [name, v] of Object.entries(values)) io.out(`${name} = ${fmt(v[0]!)}`);
      return 0;
    }

    const entries = Object.entries(result.gradients);
    switch (args.format) {
      case 'json':
        io.out(JSON.stringify({ gradients: result.gradients, ...(result.steps ? { steps: result.steps } : {}) }, null, 2));
        return 0;
      case 'index':
        entries.forEach(([, g]) => io.out(g.index));
        break;
      case 'matrix':
        entries.forEach(([, g]) => io.out(g.matrix ?? `${g.index}   (no matrix pattern applies; index form shown)`));
        break;
      case 'latex':
        entries.forEach(([, g]) => io.out(g.latex));
        break;
      case 'all':
        entries.forEach(([, g], i) => {
          if (i) io.out('');
          io.out(g.index);
          io.out(`  matrix: ${g.matrix ?? '(no matrix pattern applies)'}`);
          io.out(`  latex:  ${g.latex}`);
        });
        break;
    }
    if (result.steps) {
      io.out('');
      io.out('derivation:');
      result.steps.forEach((s) => io.out(`  ${s}`));
    }
    return 0;
  } catch (e) {
    if (e instanceof DeltagradError) {
      io.err(formatError(e, source, fileLabel));
      return 1;
    }
    if (e instanceof UsageError) {
      io.err(`derive: ${e.message}`);
      return 2;
    }
    io.err(`derive: internal error: ${(e as Error).message}${process.env.DEBUG?.includes('deltagrad') ? `\n${(e as Error).stack}` : ' (set DEBUG=deltagrad for details)'}`);
    return 70;
  }
}

// The bundled `derive` (bin/derive.bundle.mjs, built by `npm run build:cli`) against the sources:
// the committed bundle must be exactly what the build writes from src/ now, bin/derive.mjs must run
// it only then (and src/ through tsx otherwise), and both paths must print the same bytes.
//
// Worked example: after an edit to src/ without `npm run build:cli`, the first test fails with
// "bin/derive.bundle.mjs is stale … run npm run build:cli", and `derive` itself quietly runs src/
// through tsx until the bundle is rebuilt.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'derive.mjs');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** node with these arguments, in the background. DEBUG is cleared unless env sets it: under
 * DEBUG=deltagrad, bin/derive.mjs names on stderr the path it takes. */
function node(args: string[], env: Record<string, string> = {}, cwd = root): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { cwd, env: { ...process.env, DEBUG: '', NODE_OPTIONS: '', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const conv = 'examples/layers/conv2d.dg';
const cases: [string, string[]][] = [
  ['one layer, every format', [conv]],
  ['--format latex', [conv, '--wrt', 'X', '--format', 'latex']],
  ['--steps --format json', ['-e', 'Y[i,j] = A[i,k]*X[k,j] + B[i,j]', '--steps', '--format', 'json']],
  ['--at', ['-e', 'f = (x+y)*z', '--at', 'x=-2,y=5,z=-4']],
  ['a syntax error: exit 1, line:col, caret, hint', ['-e', 'Y[i] = X[i']],
  ['an error in a file', [conv, '--wrt', 'Y']],
  ['bad usage: exit 2', ['--format', 'tex']],
  // the format worker (src/codegen/formatWorker.mjs) and ts-morph are found from the bundle too
  ['--emit ts', ['-e', 'Y[i,j] = relu(A[i,k]*X[k,j] + b[j])', '--emit', 'ts', '--dtype', 'float32']],
];

// Every command in one process, through the bundle or through src/cli.ts as bin/derive.mjs loads it
// with tsx (register(), then import); the status, stdout and stderr main() gives are what
// bin/derive.mjs passes on. Before the --emit ts case (the last), it notes whether ts-morph or
// prettier is loaded yet: deriving must not load them, from the bundle either.
type Batch = { runs: Run[]; toolsLoaded: string[] };
const batch = (via: 'bundle' | 'tsx') => `
  let main;
  if (${JSON.stringify(via)} === 'bundle') ({ main } = await import(${JSON.stringify(join(root, 'bin', 'derive.bundle.mjs'))}));
  else {
    const { register } = await import('tsx/esm/api');
    register();
    ({ main } = await import(${JSON.stringify(join(root, 'src', 'cli.ts'))}));
  }
  const { createRequire } = await import('node:module');
  const runs = [];
  let toolsLoaded;
  for (const args of JSON.parse(process.env.CASES)) {
    if (args.includes('--emit')) toolsLoaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => /node_modules\\/(ts-morph|prettier|@prettier)\\//.test(k));
    let stdout = '', stderr = '';
    const status = await main(args, { out: (s) => (stdout += s + '\\n'), err: (s) => (stderr += s + '\\n') });
    runs.push({ status, stdout, stderr });
  }
  process.stdout.write(JSON.stringify({ runs, toolsLoaded }));`;

const runBatch = (via: 'bundle' | 'tsx') =>
  node(['--input-type=module', '-e', batch(via)], { CASES: JSON.stringify(cases.map(([, a]) => a)) }).then((r) => {
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as Batch;
  });

// bin/bundleStamp.mjs's CRC in JavaScript (for Node < 20.15) against zlib's, on the bundle's bytes
const crcCheck = `
  import { crc32 } from 'node:zlib';
  import { readFileSync } from 'node:fs';
  import { crc32InJavaScript } from ${JSON.stringify(join(root, 'bin', 'bundleStamp.mjs'))};
  const bytes = readFileSync(${JSON.stringify(join(root, 'bin', 'derive.bundle.mjs'))});
  const both = (b, from) => [crc32(b, from), crc32InJavaScript(b, from)];
  console.log(JSON.stringify([both(bytes, 0), both(bytes, 0x9e3779b9), both('∂σ/∂x', 7)]));`;

// Every process starts at once: ~3 s in all (one after another, ~5 s); --emit ts is most of it.
let check: Promise<Run>, plain: Promise<Run>, bad: Promise<Run>, bundled: Promise<Batch>, viaTsx: Promise<Batch>;
let edited: Promise<Run>, crc: Promise<Run>;
let copy: string;
beforeAll(() => {
  check = node([join(root, 'bin', 'buildBundle.mjs'), '--check']);
  plain = node([bin, '-e', 'f = x*y', '--at', 'x=2,y=3'], { DEBUG: 'deltagrad' });
  bad = node([bin, '-e', 'Y[i] = X[i'], { DELTAGRAD_CLI: 'bundle' });
  bundled = runBatch('bundle');
  crc = node(['--input-type=module', '-e', crcCheck]);
  viaTsx = runBatch('tsx');
  // a copy of the project (node_modules linked) in which src/cli.ts changed after the bundle was built
  copy = mkdtempSync(join(tmpdir(), 'deltagrad-bundle-'));
  for (const f of ['src', 'bin', 'package.json', 'tsconfig.json']) cpSync(join(root, f), join(copy, f), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
  const cli = join(copy, 'src', 'cli.ts');
  writeFileSync(cli, readFileSync(cli, 'utf8').replace('derive — symbolic gradients', 'derive (edited) — symbolic gradients'));
  edited = node([join(copy, 'bin', 'derive.mjs'), '--help'], { DEBUG: 'deltagrad' }, copy);
});
afterAll(() => rmSync(copy, { recursive: true, force: true }));

describe('bin/derive.bundle.mjs', () => {
  it('is what `npm run build:cli` writes from the sources now in src/', async () => {
    const r = await check;
    expect(r.stderr, 'run npm run build:cli').toBe('');
    expect(r.status).toBe(0);
  });

  it('is what bin/derive.mjs runs', async () => {
    const r = await plain;
    expect(r.status).toBe(0);
    expect(r.stderr.split('\n')[0]).toBe('derive: running bin/derive.bundle.mjs');
    expect(r.stdout).toBe('f = 6\ndx = 3\ndy = 2\n');
  });

  it('exits 1 on a bad program, with a caret and no stack trace', async () => {
    const r = await bad;
    expect(r).toEqual((await viaTsx).runs[4]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\^\nhint: /);
  });

  it('is checked with the same CRC-32 on a Node without zlib.crc32', async () => {
    const r = await crc;
    expect(r.stderr).toBe('');
    const pairs = JSON.parse(r.stdout) as [number, number][];
    expect(pairs).toHaveLength(3);
    for (const [zlib, js] of pairs) expect(js).toBe(zlib);
  });

  it('does not load ts-morph or prettier unless --emit ts asks for them', async () => {
    expect((await bundled).toolsLoaded).toEqual([]);
    expect((await viaTsx).toolsLoaded).toEqual([]);
  });
});

describe('the bundle and src/ through tsx print the same bytes', () => {
  it.each(cases.map(([name], i) => [name, i] as const))('%s', async (_, i) => {
    const [b, t] = [(await bundled).runs[i]!, (await viaTsx).runs[i]!];
    expect(b).toEqual(t);
    expect(b.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('and the cases above are what they say', async () => {
    const r = (await bundled).runs;
    expect(r[0]!.stdout).toContain('dX[n,c,h,w] = sum(f,u,v) K[f,c,h+P-u*T,w+P-v*T]*dY[n,f,u,v]');
    expect(r[1]!.stdout).toContain('\\mathrm{d}X');
    expect(r[4]!.status).toBe(1);
    expect(r[4]!.stderr).toMatch(/^<program>:1:11: error: .*\n {2}1 \| Y\[i\] = X\[i\n {4}\| {11}\^\nhint: /);
    expect(r[5]!.status).toBe(1);
    expect(r[6]!.status).toBe(2);
    expect(r[7]!.stdout).toContain('Float32Array');
    expect(r[7]!.stdout).toContain('$gemm32()');
  });
});

describe('after an edit to src/', () => {
  it('bin/derive.mjs runs src/ through tsx, edit included', async () => {
    const r = await edited;
    expect(r.status).toBe(0);
    expect(r.stderr.split('\n')[0]).toBe('derive: bin/derive.bundle.mjs is stale (npm run build:cli); running src/ through tsx');
    expect(r.stdout).toMatch(/^derive \(edited\) — symbolic gradients/);
  });
});

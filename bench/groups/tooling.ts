// tooling: how long deriving and emitting takes.
//   - derive(), emit() and compile() of a 10 000-term sum and an 800-layer tanh chain (bench/lib/
//     bigPrograms.ts) in this process, beside the baseline's when --baseline is given, and the
//     derive command's cold start on each;
//   - compile() of the conv layer, the first call in a fresh process (and the baseline's, beside it);
//   - generateLibrary(): derive + emit every layer of generated/, in this
//     process: the first call (tools loaded on first use, cold JIT: what `npm run generate` pays) and
//     the median of the calls after it, wall and CPU;
//   - `tsx scripts/generateLibrary.ts --check` end to end (process start included);
//   - cold start of the derive command: `node dist/src/bin/derive.js …` (the package's bin, built by
//     `npm run build`) spawned, median of several, on an inline program, on one layer file, and on
//     the sum and the chain (7 runs each, alternated with the baseline's built bin when it has one,
//     wall and the child's CPU time); and
//     `npx derive` on the layer file (the bar), alternated with npx running a bare Node through the
//     same path (npm's floor).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ImplId, Row } from '../lib/cases.js';
import { median } from '../lib/timing.js';
import { baselineDir } from '../lib/baseline.js';
import { tanhChain, weightedSum } from '../lib/bigPrograms.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function spawnTimes(cmd: string, args: string[], reps: number): { medianMs: number; minMs: number; status: number | null; stderr: string } {
  const times: number[] = [];
  let status: number | null = 0;
  let stderr = '';
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const res = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    times.push(performance.now() - t0);
    status = res.status;
    stderr = res.stderr ?? '';
  }
  return { medianMs: median(times), minMs: Math.min(...times), status, stderr };
}

export async function toolingRows(opts: { quick: boolean; log: (l: string) => void }): Promise<{ rows: Row[]; info: Record<string, unknown> }> {
  const rows: Row[] = [];
  const base = { group: 'tooling', impl: 'deltagrad' as const, dtype: 'f64' as const };

  const t0 = performance.now();
  const { generateLibrary, LIBRARY } = await import('../../scripts/generateLibrary.js');
  const importMs = performance.now() - t0;
  // `npm run generate` runs generateLibrary; its first call pays the cold JIT (the bar)
  const call = async () => {
    const c0 = process.cpuUsage();
    const s0 = performance.now();
    generateLibrary();
    const c = process.cpuUsage(c0);
    return { ms: performance.now() - s0, cpuMs: (c.user + c.system) / 1000 };
  };
  const first = await call();
  const later: { ms: number; cpuMs: number }[] = [];
  for (let r = 0; r < (opts.quick ? 0 : 10); r++) later.push(await call());
  const laterMs = later.map((x) => x.ms);
  const t = later.length
    ? { medianMs: median(laterMs), minMs: Math.min(...laterMs), cpuMedianMs: median(later.map((x) => x.cpuMs)), cpuShare: later.reduce((a, x) => a + x.cpuMs, 0) / laterMs.reduce((a, b) => a + b, 0) }
    : { medianMs: first.ms, minMs: first.ms, cpuMedianMs: undefined, cpuShare: undefined };
  rows.push({
    ...base,
    case: `derive + emit generated/ (${LIBRARY.length} layers)`,
    op: 'in-process',
    status: 'ok',
    medianMs: t.medianMs,
    minMs: t.minMs,
    firstMs: first.ms,
    firstCpuMs: first.cpuMs,
    reps: Math.max(1, later.length),
    ...(t.cpuMedianMs !== undefined ? { cpuMedianMs: t.cpuMedianMs, cpuShare: t.cpuShare } : {}),
    note: `first call ${first.ms.toFixed(0)} ms wall, ${first.cpuMs.toFixed(0)} ms CPU (cold JIT; the bar); ${opts.quick ? 'only that call in --quick' : 'median and min are of the calls after it'}; module import ${importMs.toFixed(0)} ms`,
  });
  opts.log(`  generateLibrary: first ${first.ms.toFixed(0)} ms (CPU ${first.cpuMs.toFixed(0)} ms), then median ${t.medianMs.toFixed(0)} ms (import ${importMs.toFixed(0)} ms)`);

  // compile() of the conv layer in a fresh process: its first call (cold JIT), timed inside the
  // process after the import (the import of TypeScript sources through tsx is not compile's cost)
  const coldCompile = (dir: string) => {
    const script = `const { compile } = await import(${JSON.stringify(`${dir}/src/index.ts`)});
      const src = (await import('node:fs')).readFileSync(${JSON.stringify(`${root}examples/layers/conv2d.dg`)}, 'utf8');
      const t = performance.now(); compile(src, { sizes: { N: 2, C: 3, H: 8, W: 8, F: 4, P: 1 } }); console.log(performance.now() - t);`;
    const times: number[] = [];
    for (let r = 0; r < (opts.quick ? 1 : 9); r++) {
      const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
      if (res.status !== 0) return { error: (res.stderr ?? '').split('\n').find((l) => l.trim()) ?? `exit ${res.status}` };
      times.push(Number(res.stdout.trim().split('\n').at(-1)));
    }
    return { times };
  };
  for (const [impl, dir] of [['deltagrad', root.replace(/\/$/, '')], ...(baselineDir ? [['deltagrad-baseline', baselineDir]] : [])] as [ImplId, string][]) {
    const r = coldCompile(dir);
    const row = { ...base, impl, case: 'compile() conv2d.dg, cold', op: 'first call in a new process' };
    if ('error' in r) rows.push({ ...row, status: 'error', note: r.error });
    else rows.push({ ...row, status: 'ok', medianMs: median(r.times), minMs: Math.min(...r.times), reps: r.times.length, note: 'check, derive, lower, print, new Function: the time of the call, after the import' });
    opts.log(`  compile() cold (${impl}): ${'error' in r ? r.error : `median ${median(r.times).toFixed(0)} ms`}`);
  }

  // the compiler's own scaling (issue 15, item 6): derive, emit and compile of a 10 000-term sum and an
  // 800-layer tanh chain, in this process, interleaved with the baseline checkout's (--baseline=DIR)
  // call by call; CPU time (the machine may be busy), medians after a warm-up call each
  const impls: [ImplId, string][] = [['deltagrad', root.replace(/\/$/, '')], ...(baselineDir ? [['deltagrad-baseline', baselineDir] as [ImplId, string]] : [])];
  type Api = { derive: (s: string) => unknown; emit: (s: string) => string; compile: (s: string, o?: object) => unknown };
  const apis = new Map<ImplId, Api>();
  for (const [impl, dir] of impls) apis.set(impl, (await import(pathToFileURL(`${dir}/src/index.ts`).href)) as Api);
  const big = [
    { name: `derive/emit/compile: 10 000-term sum`, src: weightedSum(opts.quick ? 1000 : 10_000), sizes: {} },
    { name: `derive/emit/compile: 800-layer tanh chain`, src: tanhChain(opts.quick ? 80 : 800), sizes: { N: 4, D: 8 } },
  ];
  for (const b of big)
    for (const what of ['derive', 'emit', 'compile'] as const) {
      const run = (api: Api) => (what === 'derive' ? api.derive(b.src) : what === 'emit' ? api.emit(b.src) : api.compile(b.src, { sizes: b.sizes }));
      const cpu = new Map<ImplId, number[]>(impls.map(([i]) => [i, []]));
      const wall = new Map<ImplId, number[]>(impls.map(([i]) => [i, []]));
      const reps = opts.quick ? 1 : what === 'derive' ? 5 : 3;
      for (let r = -1; r < reps; r++)
        for (const [impl] of r % 2 ? [...impls].reverse() : impls) {
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          run(apis.get(impl)!);
          const c = process.cpuUsage(c0);
          if (r < 0) continue; // warm-up
          wall.get(impl)!.push(performance.now() - t0);
          cpu.get(impl)!.push((c.user + c.system) / 1000);
        }
      for (const [impl] of impls) {
        const w = wall.get(impl)!;
        const c = cpu.get(impl)!;
        rows.push({ ...base, impl, case: b.name, op: `${what}()`, status: 'ok', medianMs: median(w), minMs: Math.min(...w), cpuMedianMs: median(c), reps, note: `in-process, after a warm-up call; interleaved with the baseline when given${what === 'derive' ? '; the gradients only: DeriveResult.program (the planned backward program) is made when read, and is not read here' : ''}` });
        opts.log(`  ${b.name} ${what} (${impl}): median ${median(w).toFixed(0)} ms wall, ${median(c).toFixed(0)} ms CPU`);
      }
    }
  const bigBin = 'dist/src/bin/derive.js';
  const sumFile = join(mkdtempSync(join(tmpdir(), 'dg-big-')), 'sum.dg');
  writeFileSync(sumFile, weightedSum(opts.quick ? 1000 : 10_000));
  const chainFile = join(dirname(sumFile), 'chain.dg');
  writeFileSync(chainFile, tanhChain(opts.quick ? 80 : 800));

  const require = createRequire(import.meta.url);
  const tsxCli = require.resolve('tsx/cli');
  const spawnRow = (name: string, op: string, cmd: string, args: string[], reps: number, note: string) => {
    const s = spawnTimes(cmd, args, reps);
    const failed = s.status !== 0 && !(op === 'tsx generateLibrary --check' && s.status === 1 && /stale/.test(s.stderr));
    rows.push({
      ...base,
      case: name,
      op,
      status: failed ? 'error' : 'ok',
      medianMs: s.medianMs,
      minMs: s.minMs,
      reps,
      note: failed ? `exit ${s.status}: ${s.stderr.split('\n')[0]}` : note,
    });
    opts.log(`  ${name} ${op}: median ${s.medianMs.toFixed(0)} ms, min ${s.minMs.toFixed(0)} ms`);
  };
  if (!opts.quick)
    spawnRow(`derive + emit generated/ (${LIBRARY.length} layers)`, 'tsx generateLibrary --check', process.execPath, [tsxCli, 'scripts/generateLibrary.ts', '--check'], 5, 'a new process: tsx start, imports, derive, emit, compare');
  const affine = 'Y[i,j] = A[i,k]*X[k,j] + B[i,j]';
  // the package's bin as npm links it; built by `npm run build` (npm install runs it)
  const bin = 'dist/src/bin/derive.js';
  spawnRow('derive cold start', `node ${bin} -e '${affine}' --wrt X`, process.execPath, [bin, '-e', affine, '--wrt', 'X'], opts.quick ? 1 : 10, 'spawned; wall time of the whole process');
  spawnRow('derive cold start', `node ${bin} examples/layers/conv2d.dg`, process.execPath, [bin, 'examples/layers/conv2d.dg'], opts.quick ? 1 : 10, 'spawned; one layer, every gradient');
  // the 10 000-term sum and the 800-layer chain through the command (issue 15's bar: a new user's
  // derive is a cold process), alternated run by run with the baseline checkout's built command
  // when it has one; wall time and the child's CPU time (reported by the child at exit), medians
  const bins: [ImplId, string][] = [['deltagrad', join(root, bigBin)], ...(baselineDir && existsSync(join(baselineDir, bigBin)) ? [['deltagrad-baseline', join(baselineDir, bigBin)] as [ImplId, string]] : [])];
  const cpuAtExit = `--import=data:text/javascript,process.on('exit',()=>process.stderr.write('\\ncpu-us '+JSON.stringify(process.cpuUsage())))`;
  for (const [what, file] of [['10 000-term sum', sumFile], ['800-layer tanh chain', chainFile]] as const) {
    const wall = new Map<ImplId, number[]>(bins.map(([i]) => [i, []]));
    const cpu = new Map<ImplId, number[]>(bins.map(([i]) => [i, []]));
    const failures = new Map<ImplId, string>();
    const reps = opts.quick ? 1 : 7;
    for (let r = 0; r < reps; r++)
      for (const [impl, bin] of r % 2 ? [...bins].reverse() : bins) {
        const t = performance.now();
        const res = spawnSync(process.execPath, [cpuAtExit, bin, file], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, NODE_OPTIONS: '' } });
        wall.get(impl)!.push(performance.now() - t);
        const used = /cpu-us (\{.*\})\s*$/.exec(res.stderr ?? '');
        if (used) {
          const u = JSON.parse(used[1]!) as { user: number; system: number };
          cpu.get(impl)!.push((u.user + u.system) / 1000);
        }
        if (res.status !== 0) failures.set(impl, `exit ${res.status}: ${(res.stderr ?? '').split('\n')[0]}`);
      }
    for (const [impl] of bins) {
      const w = wall.get(impl)!;
      const c = cpu.get(impl)!;
      const failed = failures.get(impl);
      rows.push({
        ...base,
        impl,
        case: 'derive cold start',
        op: `node ${bigBin} (${what})`,
        status: failed ? 'error' : 'ok',
        medianMs: median(w),
        minMs: Math.min(...w),
        ...(c.length ? { cpuMedianMs: median(c) } : {}),
        reps,
        note: failed ?? `spawned; the whole process, printing included (the bar: < 1 s); CPU is the child's, GC threads included${bins.length > 1 ? '; alternated with the baseline checkout’s built command' : ''}`,
      });
      opts.log(`  derive cold start (${what}, ${impl}): median ${median(w).toFixed(0)} ms wall${c.length ? `, ${median(c).toFixed(0)} ms CPU` : ''}`);
    }
  }
  // npx derive, and beside it npm's floor: `npx --yes --package=. -- node -e 0` takes the very path
  // `npx derive` takes in this project (npm start, arborist reads of the project's tree and of
  // npx's cache entry for it, a shell, a Node start) but runs nothing. Alternated, so both see the
  // same host; derive's own share is the difference.
  const npxReps = opts.quick ? 1 : 10;
  const floor: number[] = [];
  const npxDerive: number[] = [];
  let npxStatus: number | null = 0;
  let npxStderr = '';
  // --yes: in a fresh clone npx first copies the project into its cache, and a user config of
  // `yes=false` would refuse that without a terminal. One untimed call each does that copying.
  const commands = [
    [['--yes', '--package=.', '--', process.execPath, '-e', '0'], floor],
    [['derive', 'examples/layers/conv2d.dg'], npxDerive],
  ] as const;
  for (let r = -1; r < npxReps; r++) {
    for (const [args, into] of commands) {
      const t = performance.now();
      const res = spawnSync('npx', args, { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
      if (r >= 0) into.push(performance.now() - t);
      if (res.status !== 0) [npxStatus, npxStderr] = [res.status, `npx ${args.join(' ')}: ${(res.stderr ?? '').split('\n').filter((l) => !l.startsWith('npm warn')).join(' ')}`];
    }
  }
  const npxRow = (op: string, times: number[], note: string) => {
    rows.push({ ...base, case: 'derive cold start', op, status: npxStatus === 0 ? 'ok' : 'error', medianMs: median(times), minMs: Math.min(...times), reps: npxReps, note: npxStatus === 0 ? note : `exit ${npxStatus}: ${npxStderr.split('\n')[0]}` });
    opts.log(`  derive cold start ${op}: median ${median(times).toFixed(0)} ms, min ${Math.min(...times).toFixed(0)} ms`);
  };
  npxRow('npx --yes --package=. -- node -e 0', floor, 'npm’s floor for the line below: the same npx path, running a bare Node instead of derive; alternated with it');
  npxRow('npx derive examples/layers/conv2d.dg', npxDerive, `through npx (adds npm’s own start-up; the bar); derive’s share is ${(median(npxDerive) - median(floor)).toFixed(0)} ms over the floor above`);
  return { rows, info: { generateLibraryImportMs: importMs } };
}

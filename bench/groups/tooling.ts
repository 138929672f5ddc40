// tooling: how long deriving and emitting takes.
//   - generateLibrary(): derive + emit (ts-morph, prettier) every layer of generated/, in this process:
//     the first call (cold JIT, what `npm run generate` pays) and the median of the calls after it;
//   - `tsx src/codegen/generateLibrary.ts --check` end to end (process start included);
//   - cold start of the derive command: `node bin/derive.mjs …` spawned, median of several, on an
//     inline program and on one layer file; and `npx derive` on the layer file.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Row } from '../lib/cases.js';
import { median, time } from '../lib/timing.js';

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
  const { generateLibrary, LIBRARY } = await import('../../src/codegen/generateLibrary.js');
  const importMs = performance.now() - t0;
  const t = opts.quick
    ? (() => {
        const c0 = process.cpuUsage();
        const s0 = performance.now();
        generateLibrary();
        const ms = performance.now() - s0;
        const c = process.cpuUsage(c0);
        return { medianMs: ms, minMs: ms, firstMs: ms, firstCpuMs: (c.user + c.system) / 1000, reps: 1, cpuMedianMs: undefined, cpuShare: undefined };
      })()
    : time(() => void generateLibrary(), { reps: 10, warmupMs: 0, sampleMs: 0 });
  rows.push({
    ...base,
    case: `derive + emit generated/ (${LIBRARY.length} layers)`,
    op: 'in-process',
    status: 'ok',
    medianMs: t.medianMs,
    minMs: t.minMs,
    firstMs: t.firstMs,
    firstCpuMs: t.firstCpuMs,
    reps: t.reps,
    ...(t.cpuMedianMs !== undefined ? { cpuMedianMs: t.cpuMedianMs, cpuShare: t.cpuShare } : {}),
    note: `first call ${t.firstMs.toFixed(0)} ms (cold JIT, the bar); ${opts.quick ? 'only that call in --quick' : 'median and min are of the calls after it'}; module import ${importMs.toFixed(0)} ms`,
  });
  opts.log(`  generateLibrary: first ${t.firstMs.toFixed(0)} ms, then median ${t.medianMs.toFixed(0)} ms (import ${importMs.toFixed(0)} ms)`);

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
    spawnRow(`derive + emit generated/ (${LIBRARY.length} layers)`, 'tsx generateLibrary --check', process.execPath, [tsxCli, 'src/codegen/generateLibrary.ts', '--check'], 5, 'a new process: tsx start, imports, derive, emit, compare');
  const affine = 'Y[i,j] = A[i,k]*X[k,j] + B[i,j]';
  spawnRow('derive cold start', `node bin/derive.mjs -e '${affine}' --wrt X`, process.execPath, ['bin/derive.mjs', '-e', affine, '--wrt', 'X'], opts.quick ? 1 : 10, 'spawned; wall time of the whole process');
  spawnRow('derive cold start', 'node bin/derive.mjs examples/layers/conv2d.dg', process.execPath, ['bin/derive.mjs', 'examples/layers/conv2d.dg'], opts.quick ? 1 : 10, 'spawned; one layer, every gradient');
  if (!opts.quick) spawnRow('derive cold start', 'npx derive examples/layers/conv2d.dg', 'npx', ['derive', 'examples/layers/conv2d.dg'], 5, 'through npx (adds npm’s own start-up)');
  return { rows, info: { generateLibraryImportMs: importMs } };
}

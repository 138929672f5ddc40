// npm run bench [-- --quick] [-- --only=matmul,conv-s1] [-- --out=path.json] [-- --baseline=DIR]
//
// Runs every benchmark group (bench/lib/groups.ts) in a child process of its own, one after the other,
// then prints the table and the bar and writes the results:
//   full run:  bench/results.json and bench/RESULTS.md (with the findings of bench/FINDINGS.md);
//   --quick:   fewer reps, the slowest peers and sizes left out, all groups in one process (peak RSS is
//              then cumulative) — a smoke run of under a minute → bench/results-quick.json;
//   --only:    just those groups → bench/results-partial.json;
//   --render:  no measuring: RESULTS.md again from bench/results.json (after editing bench/FINDINGS.md).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GroupResult, Row } from './lib/cases.js';
import { GROUPS } from './lib/groups.js';
import { bars, consoleTable, markdown, ratiosFor, type Machine, type Results } from './lib/report.js';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const root = join(benchDir, '..');

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    /* not Linux */
  }
  return cpus()[0]?.model ?? 'unknown';
}

function gitState(): { commit: string; dirty: string[] } | undefined {
  const git = (args: string[]) => spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  const head = git(['rev-parse', '--short', 'HEAD']);
  if (head.status !== 0) return undefined;
  const dirty = git(['status', '--porcelain', '--', 'src', 'generated', 'examples/layers']).stdout.split('\n').filter(Boolean).map((l) => l.slice(3));
  return { commit: head.stdout.trim(), dirty };
}

function runChild(groups: string, out: string, quick: boolean, baseline?: string): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(benchDir, 'child.ts'), groups, out, ...(quick ? ['--quick'] : [])], {
      cwd: root,
      env: { ...process.env, ...(baseline ? { DELTAGRAD_BASELINE: baseline } : {}) },
      // TF.js prints a banner on stdout; the child logs its progress on stderr and writes results to `out`
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('exit', (code) => resolve(code));
  });
}

/** --render: rebuild RESULTS.md (and the table) from bench/results.json, e.g. after editing FINDINGS.md. */
function render() {
  const saved = JSON.parse(readFileSync(join(benchDir, 'results.json'), 'utf8')) as Results;
  const allRows: Row[] = saved.rows.map(({ ratios: _r, cpuRatios: _c, ...plain }) => plain);
  const rows = allRows.map((plain) => {
    const ratios = ratiosFor(plain, allRows, 'wall');
    const cpuRatios = ratiosFor(plain, allRows, 'cpu');
    return { ...plain, ...(ratios ? { ratios } : {}), ...(cpuRatios ? { cpuRatios } : {}) };
  });
  const res: Results = { ...saved, rows, bars: bars(rows) };
  const findingsPath = join(benchDir, 'FINDINGS.md');
  writeFileSync(join(benchDir, 'RESULTS.md'), markdown(res, existsSync(findingsPath) ? readFileSync(findingsPath, 'utf8') : ''));
  process.stdout.write(consoleTable(res) + `\nrewrote ${join(benchDir, 'RESULTS.md')} from results.json\n`);
}

async function main(argv: string[]) {
  if (argv.includes('--render')) return render();
  const quick = argv.includes('--quick');
  const only = argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
  const outArg = argv.find((a) => a.startsWith('--out='))?.slice(6);
  // --baseline=DIR: another checkout whose kernels run beside these, interleaved (bench/lib/baseline.ts)
  const baseline = argv.find((a) => a.startsWith('--baseline='))?.slice(11);
  for (const g of only ?? []) if (!(GROUPS as readonly string[]).includes(g)) throw new Error(`unknown group ${g} (groups: ${GROUPS.join(', ')})`);
  const groups = GROUPS.filter((g) => !only || only.includes(g));
  const outJson = outArg ?? join(benchDir, only ? 'results-partial.json' : quick ? 'results-quick.json' : 'results.json');

  const machine: Machine = {
    cpu: cpuModel(),
    cores: cpus().length,
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
    loadavgStart: loadavg(),
  };
  const git = gitState();
  const t0 = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), 'deltagrad-bench-'));
  const results: GroupResult[] = [];
  try {
    // a full run isolates every group in a process of its own; --quick runs them all in one
    const batches = quick ? [groups.join(',')] : [...groups];
    for (const batch of batches) {
      if (!quick) process.stderr.write(`[${batch}]\n`);
      const file = join(tmp, `${batch.replace(/,/g, '+')}.json`);
      const code = await runChild(batch, file, quick, baseline);
      if (code !== 0 || !existsSync(file)) {
        process.stderr.write(`group ${batch} failed (exit ${code})\n`);
        for (const g of batch.split(',')) results.push({ group: g, rows: [], maxRssMiB: NaN, wallMs: NaN });
        process.exitCode = 1;
        continue;
      }
      results.push(...(JSON.parse(readFileSync(file, 'utf8')) as GroupResult[]));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const allRows: Row[] = results.flatMap((r) => r.rows);
  const rows = allRows.map((r) => {
    const ratios = ratiosFor(r, allRows, 'wall');
    const cpuRatios = ratiosFor(r, allRows, 'cpu');
    return { ...r, ...(ratios ? { ratios } : {}), ...(cpuRatios ? { cpuRatios } : {}) };
  });
  const res: Results = {
    machine: { ...machine, loadavgEnd: loadavg(), ...(git ? { git } : {}) },
    mode: quick ? 'quick' : 'full',
    groups: results.map(({ group, maxRssMiB, wallMs, calibration, info }) => ({ group, maxRssMiB, wallMs, ...(calibration ? { calibration } : {}), ...(info ? { info } : {}) })),
    rows,
    bars: bars(rows),
  };
  process.stdout.write(consoleTable(res) + '\n');
  writeFileSync(outJson, JSON.stringify(res, null, 1) + '\n');
  process.stdout.write(`\nwrote ${outJson}`);
  if (!quick && !only && !outArg) {
    const findingsPath = join(benchDir, 'FINDINGS.md');
    const findings = existsSync(findingsPath) ? readFileSync(findingsPath, 'utf8') : '';
    writeFileSync(join(benchDir, 'RESULTS.md'), markdown(res, findings));
    process.stdout.write(` and ${join(benchDir, 'RESULTS.md')}`);
  }
  process.stdout.write(` (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
}

await main(process.argv.slice(2));

// child: runs benchmark groups in a process of their own and writes their rows as JSON (an array of
// GroupResult). Started by bench/run.ts — one process per group in a full run, so each group's peak
// RSS is its own; one process for all groups with --quick, to save the start-ups:
//   node --import tsx bench/child.ts <group>[,<group>…] <out.json> [--quick]
import { writeFileSync } from 'node:fs';
import { runCases, type Case, type GroupResult, type Row } from './lib/cases.js';
import { matmulCases } from './groups/matmul.js';
import { denseCases } from './groups/dense.js';
import { convCases } from './groups/conv.js';
import { poolCases } from './groups/pool.js';
import { softmaxCases } from './groups/softmax.js';
import { kernelCases } from './groups/kernels.js';
import { peerCases } from './groups/peers.js';
import { cnnBreakdown, cnnCases } from './groups/cnn.js';
import { calibrate } from './lib/timing.js';
import { toolingRows } from './groups/tooling.js';
import { threadsRows } from './groups/threads.js';
import { browserThreadsRows } from './groups/browserThreads.js';
import { zooCases, zooTable } from './groups/zoo.js';
import { GROUPS, type GroupName } from './lib/groups.js';


const caseSources: Record<Exclude<GroupName, 'tooling' | 'threads' | 'browser-threads'>, () => Case[] | Promise<Case[]>> = {
  matmul: matmulCases,
  dense: denseCases,
  'conv-s1': () => convCases('s1'),
  'conv-s2': () => convCases('s2'),
  maxpool: poolCases,
  softmax: softmaxCases,
  kernels: kernelCases,
  cnn: cnnCases,
  zoo: zooCases,
  peers: peerCases,
};

async function main(argv: string[]) {
  const [list, out] = argv;
  const quick = argv.includes('--quick');
  const groups = (list ?? '').split(',');
  if (!list || !out || !groups.every((g) => (GROUPS as readonly string[]).includes(g))) {
    process.stderr.write(`usage: child.ts <group>[,<group>…] <out.json> [--quick]   (groups: ${GROUPS.join(', ')})\n`);
    process.exit(2);
  }
  const log = (line: string) => process.stderr.write(line + '\n');
  const timing = quick ? { reps: 3, warmupMs: 30, sampleMs: 5, slowMs: 50 } : { reps: 10, warmupMs: 500, warmupCalls: 5, sampleMs: 20 };
  const results: GroupResult[] = [];
  for (const group of groups as GroupName[]) {
    if (groups.length > 1) log(`[${group}]`);
    const calibration = calibrate();
    const t0 = performance.now();
    let rows: Row[];
    let info: Record<string, unknown> | undefined;
    if (group === 'tooling') ({ rows, info } = await toolingRows({ quick, log }));
    else if (group === 'threads') ({ rows, info } = await threadsRows({ quick, log }));
    else if (group === 'browser-threads') ({ rows, info } = await browserThreadsRows({ quick, log }));
    else rows = await runCases(await caseSources[group](), { quick, timing, log });
    if (group === 'cnn') info = { breakdown: cnnBreakdown(quick ? 3 : 10) };
    if (group === 'zoo') {
      info = { zoo: zooTable(rows) };
      for (const z of zooTable(rows)) log(`  ${z.layer}: forward ${z.forwardMs?.toFixed(3)} ms, backward ${z.backwardMs?.toFixed(3)} ms, ${z.ratio?.toFixed(2)}×${z.tfjsWasmMs !== undefined ? `; TF.js WASM fwd+bwd ${z.tfjsWasmMs.toFixed(3)} ms` : ''}${z.twoStatementsMs !== undefined ? `; two statements ${z.twoStatementsMs.toFixed(3)} ms` : ''}${z.everyInputMs !== undefined ? `; every input's gradient ${z.everyInputMs.toFixed(3)} ms` : ''}`);
    }
    results.push({
      group,
      rows,
      // of the whole process so far: with several groups in one process (--quick) this is cumulative
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
      wallMs: performance.now() - t0,
      calibration,
      ...(info ? { info } : {}),
    });
  }
  writeFileSync(out, JSON.stringify(results));
}

if (process.argv[1]?.endsWith('child.ts')) await main(process.argv.slice(2));

// load: how busy the machine was while something was measured — the cores busy in all (/proc/stat,
// Linux), this process's own CPU time (its worker threads included), and what other processes took —
// with os.loadavg() before and after. Two threads can only beat one by 2× when the second core is free.
//
// Worked example: const { value, load } = await measured(() => timeBoth());
//   load = { machineCores: 1.93, ownCores: 1.85, otherCores: 0.08, loadavgBefore: […], loadavgAfter: […] }
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

/** Busy and total jiffies of all cores (undefined off Linux). */
export function cpuTimes(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = line[3]! + (line[4] ?? 0);
    const total = line.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** CPU milliseconds (user + system) of this process's living descendants — a browser it launched and
 *  that browser's renderer and GPU processes (0 off Linux). */
export function descendantsCpuMs(): number {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return 0;
  }
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const e of entries) {
    try {
      // the fields after the command name, which is in brackets and may hold spaces
      const text = readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(e), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      /* the process ended meanwhile */
    }
  }
  const mine = new Set([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, s] of stats)
      if (!mine.has(pid) && mine.has(s.ppid)) {
        mine.add(pid);
        grew = true;
      }
  }
  let ticks = 0;
  for (const pid of mine) if (pid !== process.pid) ticks += stats.get(pid)?.ticks ?? 0;
  return ticks * 10; // USER_HZ is 100 on Linux
}

export interface Load {
  /** cores busy on the machine, on average, over the measurement */
  machineCores?: number;
  /** cores this process (and its worker threads; with `children`, its descendants too) used */
  ownCores: number;
  /** what other processes used: machineCores − ownCores */
  otherCores?: number;
  loadavgBefore: number[];
  loadavgAfter: number[];
}

/** `children`: count this process's descendants as its own (a browser it drives). */
export async function measured<T>(f: () => Promise<T>, opts: { children?: boolean } = {}): Promise<{ value: T; load: Load }> {
  const kids0 = opts.children ? descendantsCpuMs() : 0;
  const before = cpuTimes();
  const avg0 = loadavg();
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await f();
  const wallMs = performance.now() - t0;
  const own = process.cpuUsage(own0);
  const after = cpuTimes();
  const kidsMs = opts.children ? descendantsCpuMs() - kids0 : 0;
  const ownCores = ((own.user + own.system) / 1000 + kidsMs) / wallMs;
  const machineCores = before && after ? ((after.busy - before.busy) / Math.max(1, after.total - before.total)) * cpus().length : undefined;
  return {
    value,
    load: {
      ...(machineCores !== undefined ? { machineCores, otherCores: Math.max(0, machineCores - ownCores) } : {}),
      ownCores,
      loadavgBefore: avg0,
      loadavgAfter: loadavg(),
    },
  };
}

/** The same register-only loop pinned to each core in turn (`taskset`, Linux), in ms: a free core is
 *  not always a full one — on a virtual machine one vCPU can deliver a third less than the other,
 *  and then even shares on two threads finish when the slower core's share does. Undefined where
 *  taskset is missing. */
export function coreSpeeds(): number[] | undefined {
  const loop = 'let x = 0; const t = performance.now(); for (let i = 0; i < 2e8; i++) x = (x + i * 7) | 0; console.log(performance.now() - t, x & 1);';
  const ms: number[] = [];
  for (let core = 0; core < cpus().length; core++) {
    const best: number[] = [];
    for (let round = 0; round < 3; round++) {
      const r = spawnSync('taskset', ['-c', String(core), process.execPath, '-e', loop], { encoding: 'utf8' });
      if (r.error || r.status !== 0) return undefined;
      best.push(Number(r.stdout.split(' ')[0]));
    }
    ms.push(Math.min(...best));
  }
  return ms;
}

/** What even shares on `threads` threads can reach against one thread on the fastest core, given
 *  coreSpeeds(): the slowest of the cores used sets the pace. */
export function evenSharesBound(ms: readonly number[], threads: number): number {
  const used = [...ms].sort((a, b) => a - b).slice(0, threads);
  return (threads * used[0]!) / used[used.length - 1]!;
}

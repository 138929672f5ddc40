// workerSource: the code every worker thread runs — shipped with the package as this constant and
// started from it (Node: `new Worker(text, { eval: true })`; a browser: a Blob URL), so a bundler
// needs no worker file. It never runs text a user wrote: the kernels it instantiates are the module
// body compile() prints from the loop IR (assertSafeCode checks it, as for one thread), sent in a
// `load` message and made into functions with `new Function` exactly as compile() does. A call's
// kernels run in runSteps (runner.ts), the loop the calling thread runs too, as part 0.
//
// Messages (main → worker): init { id, parts, control, last } once (id from 1 where the calling thread
// takes part 0; from 0 on a page's main thread, which may not block), answered by ready; load { key, body, memory, tensors, sizes, forward, backward } per compiled kernel (memory
// is a shared WebAssembly.Memory, its tensors views of it, shared, not copied; the body gets the
// memory as $memory, for its WebAssembly kernels to import); run { key, phases, run }; unload { key }.
// A run whose kernel threw posts error { run, error } (worker → main) before the last barrier; on a
// page's main thread, where there is no last barrier, each worker then posts done { run, id }.
//
// Parking: after a run a worker does not go back to its event loop at once; it waits on its state
// word control[STATE + id] = PARKED — a spin of SPIN_MS, then Atomics.wait (no CPU) — up to PARK_MS. The calling thread hands it
// the next run there — writes the key, phases and run number (control[3], [4], [5]), swaps the
// state to CLAIMED and notifies: a futex wake, where a message to an idle worker's event loop took
// 0.1–0.3 ms. A worker that times out swaps PARKED → IDLE and returns to its event loop, where runs
// come as messages again; the calling thread swaps a parked worker to IDLE (and wakes it) before it
// posts any other message. Both sides swap with compareExchange, so a run is claimed exactly once,
// by a message or by the swap, never both.
import { RUNNER_SOURCE } from './runner.js';

export const WORKER_SOURCE = String.raw`'use strict';
${RUNNER_SOURCE}
const host = globalThis.process;
const node = typeof host === 'object' && host !== null && typeof host.getBuiltinModule === 'function' ? host.getBuiltinModule('worker_threads').parentPort : null;
const post = (m) => (node ? node.postMessage(m) : self.postMessage(m));
const modules = new Map();
// control words (pool.ts keeps the same numbers): the run handed over to a parked worker, and each
// worker's state
const KEY = 3, PHASES = 4, RUN = 5, STATE = 8;
const IDLE = 0, PARKED = 1, CLAIMED = 2;
const PARK_MS = 100;
// the first part of a park is a spin: a futex wake of a sleeping vCPU costs 0.1–0.3 ms here, and
// the next call of a loop of small calls often comes within this
const SPIN_MS = 0.3;
let c = null;
function run(key, phases, runId) {
  // parked before the last barrier: the calling thread, past it, may hand over the next run at once
  Atomics.store(c.control, STATE + c.id, PARKED);
  const m = modules.get(key);
  // (cannot happen: a kernel's module is posted before any of its runs, and messages keep their order)
  if (!m) throw new Error('deltagrad: internal: a worker was asked to run a kernel it was not given');
  runSteps(c, m, phases, (error) => post({ op: 'error', run: runId, error }));
  // no last barrier (a page's main thread takes no part): each worker says when its share is written
  if (!c.last) post({ op: 'done', run: runId, id: c.id });
}
/** Wait parked for runs handed over through shared memory; back to the event loop when none comes
 * within PARK_MS, or when the calling thread has a message to post. */
function serve() {
  const control = c.control, at = STATE + c.id;
  let spinUntil = performance.now() + SPIN_MS;
  let until = spinUntil - SPIN_MS + PARK_MS;
  let spinning = true;
  for (let spin = 0; ; spin++) {
    const state = Atomics.load(control, at);
    if (state === CLAIMED) {
      const code = Atomics.load(control, PHASES);
      run(Atomics.load(control, KEY), code === 3 ? ['forward', 'backward'] : code === 2 ? ['backward'] : ['forward'], Atomics.load(control, RUN));
      spinUntil = performance.now() + SPIN_MS;
      until = spinUntil - SPIN_MS + PARK_MS;
      spinning = true;
      continue;
    }
    if (state === IDLE) return;
    if (spinning) {
      if ((spin & 255) === 255 && performance.now() >= spinUntil) spinning = false;
      continue;
    }
    const left = until - performance.now();
    if (left <= 0) {
      if (Atomics.compareExchange(control, at, PARKED, IDLE) === PARKED) return;
      continue;
    }
    // woken while still parked: the calling thread nudged it (pool.ts nudge) — a call is coming,
    // so spin again rather than pay a futex wake when it is handed over
    if (Atomics.wait(control, at, PARKED, left) === 'ok' && Atomics.load(control, at) === PARKED) {
      spinning = true;
      spinUntil = performance.now() + SPIN_MS;
    }
  }
}
function receive(msg) {
  switch (msg.op) {
    case 'init':
      c = { control: msg.control, id: msg.id, parts: msg.parts, last: msg.last };
      post({ op: 'ready' });
      return;
    case 'load': {
      const sizes = Object.assign(Object.create(null), msg.sizes, { '#part': c.id, '#parts': c.parts });
      const m = { fns: null, error: undefined, tensors: msg.tensors, sizes, forward: msg.forward, backward: msg.backward };
      try {
        m.fns = new Function('$memory', msg.body)(msg.memory);
      } catch (e) {
        m.error = { name: (e && e.name) || 'Error', message: 'deltagrad: a worker thread could not make the kernels (' + ((e && e.message) || String(e)) + ')' };
      }
      modules.set(msg.key, m);
      return;
    }
    case 'unload':
      modules.delete(msg.key);
      return;
    case 'run':
      run(msg.key, msg.phases, msg.run);
      return serve();
  }
}
if (node) node.on('message', receive);
else self.onmessage = (e) => receive(e.data);
`;

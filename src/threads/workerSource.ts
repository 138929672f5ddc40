// workerSource: the code every worker thread runs — shipped with the package as this constant and
// started from it (Node: `new Worker(text, { eval: true })`; a browser: a Blob URL), so a bundler
// needs no worker file. It never runs text a user wrote: the kernels it instantiates are the module
// body compile() prints from the loop IR (assertSafeCode checks it, as for one thread), sent in a
// `load` message and made into functions with `new Function` exactly as compile() does.
//
// Messages (main → worker): init { id, parts, control } once; load { key, body, memory, tensors,
// sizes, forward, backward } per compiled kernel (memory is a shared WebAssembly.Memory, its tensors
// views of it, shared, not copied; the body gets the memory as $memory, for its WebAssembly kernels
// to import); run { key, phases }; unload { key }. Each run ends in done { error? } (worker → main).
//
// Worked example, a run of forward = [forward_Z (split), forward_Y (whole), forward_L (split)] on 2
// workers: both run their share of forward_Z, meet at the barrier, worker 0 runs forward_Y while
// worker 1 waits at the next barrier, then both run their share of forward_L and post done. Two
// whole kernels in a row need no barrier between them: worker 0 runs both.
//
// The barrier: control[0] counts arrivals, control[1] is the generation the last arrival bumps (a
// short spin, then Atomics.wait); control[2] is set when a kernel threw, so that the rest are
// skipped — every worker still passes every barrier, so none waits forever.
//
// Parking: after a run a worker does not go back to its event loop at once; it waits (Atomics.wait,
// no CPU) up to PARK_MS on its state word control[STATE + id] = PARKED. The main thread hands it
// the next run there — writes the key and phases (control[3], control[4]), swaps the state to
// CLAIMED and notifies: a futex wake, about 20 µs, where a message to an idle worker's event loop
// took 0.1–0.3 ms per call of a training loop. A worker that times out swaps PARKED → IDLE and
// returns to its event loop, where runs come as messages again; the main thread swaps a parked
// worker to IDLE (and wakes it) before it posts any other message. Both sides swap with
// compareExchange, so a run is claimed exactly once, by a message or by the swap, never both.
export const WORKER_SOURCE = String.raw`'use strict';
const host = globalThis.process;
const node = typeof host === 'object' && host !== null && typeof host.getBuiltinModule === 'function' ? host.getBuiltinModule('worker_threads').parentPort : null;
const post = (m) => (node ? node.postMessage(m) : self.postMessage(m));
const modules = new Map();
// control words (pool.ts keeps the same numbers): the run handed over to a parked worker, and each
// worker's state
const KEY = 3, PHASES = 4, STATE = 8;
const IDLE = 0, PARKED = 1, CLAIMED = 2;
const PARK_MS = 100;
let id = 0, parts = 1, control = null;
function barrier() {
  const gen = Atomics.load(control, 1);
  if (Atomics.add(control, 0, 1) === parts - 1) {
    Atomics.store(control, 0, 0);
    Atomics.add(control, 1, 1);
    Atomics.notify(control, 1);
    return;
  }
  // spin up to ~0.3 ms before sleeping: waking from Atomics.wait costs more than that here, and the
  // other worker's share of a kernel usually ends within it
  const until = performance.now() + 0.3;
  for (let spin = 0; ; spin++) {
    if (Atomics.load(control, 1) !== gen) return;
    if ((spin & 255) === 255 && performance.now() > until) break;
  }
  while (Atomics.load(control, 1) === gen) Atomics.wait(control, 1, gen);
}
function run(m, phases) {
  if (!m) {
    post({ op: 'done', error: { name: 'Error', message: 'deltagrad: internal: a worker was asked to run a kernel it was not given' } });
    return;
  }
  let error = m.error;
  if (error) Atomics.store(control, 2, 1);
  const steps = phases.flatMap((p) => m[p]);
  for (let i = 0; i < steps.length; i++) {
    const [name, split] = steps[i];
    if (i > 0 && (split || steps[i - 1][1])) barrier();
    if ((split || id === 0) && Atomics.load(control, 2) === 0) {
      try {
        m.fns[name](m.tensors, m.sizes);
      } catch (e) {
        error = { name: e && e.name || 'Error', message: e && e.message || String(e) };
        Atomics.store(control, 2, 1);
      }
    }
  }
  // parked before done is posted: the main thread may hand over the next run as soon as it has it
  Atomics.store(control, STATE + id, PARKED);
  post(error ? { op: 'done', error } : { op: 'done' });
}
/** Wait parked for runs handed over through shared memory; back to the event loop when none comes
 * within PARK_MS, or when the main thread has a message to post. */
function serve() {
  let until = performance.now() + PARK_MS;
  for (;;) {
    const state = Atomics.load(control, STATE + id);
    if (state === CLAIMED) {
      const code = Atomics.load(control, PHASES);
      run(modules.get(Atomics.load(control, KEY)), code === 3 ? ['forward', 'backward'] : code === 2 ? ['backward'] : ['forward']);
      until = performance.now() + PARK_MS;
      continue;
    }
    if (state === IDLE) return;
    const left = until - performance.now();
    if (left <= 0) {
      if (Atomics.compareExchange(control, STATE + id, PARKED, IDLE) === PARKED) return;
      continue;
    }
    Atomics.wait(control, STATE + id, PARKED, left);
  }
}
function receive(msg) {
  switch (msg.op) {
    case 'init':
      id = msg.id;
      parts = msg.parts;
      control = msg.control;
      return;
    case 'load': {
      const sizes = Object.assign(Object.create(null), msg.sizes, { '#part': id, '#parts': parts });
      const m = { fns: null, error: undefined, tensors: msg.tensors, sizes, forward: msg.forward, backward: msg.backward };
      try {
        m.fns = new Function('$memory', msg.body)(msg.memory);
      } catch (e) {
        m.error = { name: e && e.name || 'Error', message: 'deltagrad: a worker thread could not make the kernels (' + (e && e.message || String(e)) + ')' };
      }
      modules.set(msg.key, m);
      return;
    }
    case 'unload':
      modules.delete(msg.key);
      return;
    case 'run':
      run(modules.get(msg.key), msg.phases);
      return serve();
  }
}
if (node) node.on('message', receive);
else self.onmessage = (e) => receive(e.data);
`;

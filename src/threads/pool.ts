// pool: the worker threads that run threaded kernels — one pool per thread count, shared by every
// kernel compiled with that count, started on first use and ended when the last kernel using it
// is disposed. Node: worker_threads, unref'd while idle (a process whose work is done exits without
// a dispose); a browser: Web Workers from a Blob URL. Both start from WORKER_SOURCE, code we ship.
//
// Worked example (Node): compile(src, { threads: 2 }) twice → one pool: the calling thread (part 0)
// and one worker (part 1); each kernel loads its module into both (key 1, key 2); kernel 1's
// forward → run(1, ['forward']): the pool hands part 1 to the worker, runs part 0 here (runner.ts),
// meets the worker at the last barrier and resolves. A worker that ran the last call waits parked
// for the next (workerSource.ts), and takes it from shared memory — a swap of its state word, and a
// futex wake if it sleeps; one back in its event loop is posted a `run` message. On a page's main
// thread, which may not block, the pool is 2 workers and resolves on both workers' `done` messages.
// Runs are queued: a pool runs one at a time (every thread takes part in every run), in the order
// they were asked for.
//
// Threads need SharedArrayBuffer and Atomics, which a browser gives only to a cross-origin isolated
// page (served with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:
// require-corp); threadsAvailable() says whether this runtime has them.
import { RUNNER_SOURCE } from './runner.js';
import { WORKER_SOURCE } from './workerSource.js';

/** What the kernels of one compiled program need in a worker. */
export interface ThreadModule {
  /** the module body compile() prints (checked by assertSafeCode) */
  readonly body: string;
  /** the shared WebAssembly.Memory every array lives in; the body's WebAssembly kernels import it */
  readonly memory: object;
  /** every array the kernels read or write, each a view of the memory's SharedArrayBuffer */
  readonly tensors: Readonly<Record<string, Float32Array | Float64Array | Int32Array>>;
  readonly sizes: Readonly<Record<string, number>>;
  /** the kernels in order, each with whether its work is split between the workers */
  readonly forward: readonly (readonly [string, boolean])[];
  readonly backward: readonly (readonly [string, boolean])[];
}

/** A worker of either kind, behind one face. */
interface Port {
  post(message: unknown): void;
  terminate(): void;
  /** Node: whether the worker keeps the process alive */
  hold(on: boolean): void;
}

interface Runtime {
  SharedArrayBuffer?: unknown;
  Atomics?: unknown;
  crossOriginIsolated?: boolean;
  Worker?: new (url: string) => { postMessage(m: unknown): void; terminate(): void; onmessage: ((e: { data: unknown }) => void) | null; onerror: ((e: { message?: string }) => void) | null };
  Blob?: new (parts: string[], opts: { type: string }) => object;
  URL?: { createObjectURL(b: object): string };
  process?: { versions?: { node?: string }; getBuiltinModule?: (name: string) => unknown };
}
const runtime = globalThis as unknown as Runtime;
// Node's built-ins through process.getBuiltinModule (Node 20.16+, 22.3+): no import a browser
// bundler would have to resolve, and a synchronous start
const isNode = () => typeof runtime.process?.versions?.node === 'string';
const nodeBuiltin = (name: string) => runtime.process!.getBuiltinModule!(name);

/** Can this runtime run kernels on worker threads? (shared memory, Atomics, and workers) */
export function threadsAvailable(): boolean {
  if (typeof runtime.SharedArrayBuffer !== 'function' || typeof runtime.Atomics !== 'object') return false;
  if (isNode()) return typeof runtime.process?.getBuiltinModule === 'function';
  // a browser hands shared memory to workers only on a cross-origin isolated page
  return runtime.crossOriginIsolated === true && typeof runtime.Worker === 'function' && typeof runtime.Blob === 'function';
}

type WireError = { name: string; message: string };
type Message = { op: 'ready' } | { op: 'error'; run: number; error: WireError } | { op: 'done'; run: number; id: number };

// the control words workerSource.ts and runner.ts read (the same numbers there)
const ERROR = 2;
const KEY = 3;
const PHASES = 4;
const RUN = 5;
const STATE = 8;
const IDLE = 0;
const PARKED = 1;
const CLAIMED = 2;
const phaseCode = (phases: readonly ('forward' | 'backward')[]) => (phases.includes('forward') ? 1 : 0) | (phases.includes('backward') ? 2 : 0);

type WireModule = { fns: unknown; error: WireError | undefined; tensors: ThreadModule['tensors']; sizes: Record<string, number>; forward: ThreadModule['forward']; backward: ThreadModule['backward'] };
type RunSteps = (c: { control: Int32Array; id: number; parts: number; last: boolean }, m: WireModule, phases: readonly string[], report: (e: WireError) => void) => WireError | undefined;
// the calling thread's copy of the loop every worker runs (one text: runner.ts)
let runSteps: RunSteps | undefined;
const runner = (): RunSteps => (runSteps ??= new Function(`${RUNNER_SOURCE}\nreturn runSteps;`)() as RunSteps);

/** Does the calling thread take part in the runs (part 0)? Where it may block in Atomics.wait: Node,
 * a Web Worker — not a page's main thread. */
export function callingThreadTakesPart(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

const errorOf = (e: WireError): Error => new (e.name === 'RangeError' ? RangeError : e.name === 'EvalError' ? EvalError : Error)(e.message);

function startNode(onMessage: (m: Message) => void, onError: (e: Error) => void): Port {
  const { Worker } = nodeBuiltin('worker_threads') as {
    Worker: new (code: string, opts: { eval: true }) => { postMessage(m: unknown): void; terminate(): Promise<number>; on(ev: string, f: (x: never) => void): void; ref(): void; unref(): void };
  };
  const w = new Worker(WORKER_SOURCE, { eval: true });
  w.on('message', onMessage);
  w.on('error', onError);
  w.unref();
  return { post: (m) => w.postMessage(m), terminate: () => void w.terminate(), hold: (on) => (on ? w.ref() : w.unref()) };
}

function startBrowser(onMessage: (m: Message) => void, onError: (e: Error) => void): Port {
  const url = runtime.URL!.createObjectURL(new runtime.Blob!([WORKER_SOURCE], { type: 'text/javascript' }));
  const w = new runtime.Worker!(url);
  w.onmessage = (e) => onMessage(e.data as Message);
  w.onerror = (e) => onError(new Error(`deltagrad: a worker thread failed (${e.message ?? 'no message'}); a page whose Content-Security-Policy forbids blob: workers can allow them with worker-src blob:`));
  return { post: (m) => w.postMessage(m), terminate: () => w.terminate(), hold: () => {} };
}

export class Pool {
  private static readonly pools = new Map<number, Pool>();
  /** barrier words, the run handed to parked workers, each worker's state (runner.ts, workerSource.ts) */
  private readonly control: Int32Array;
  /** does the calling thread take part 0? (where it may block: Node, a Web Worker — not a page's
   * main thread, which must stay free; there every part runs on a worker) */
  private readonly joins: boolean;
  /** the workers, parts first … parts − 1 (first = 1 when the calling thread takes part 0) */
  private readonly ports: Promise<Port[]>;
  private readonly first: number;
  private readonly keys = new Set<number>();
  /** the calling thread's instance of each loaded module */
  private readonly own = new Map<number, WireModule>();
  private readonly self: { control: Int32Array; id: number; parts: number; last: boolean };
  private queue: Promise<unknown> = Promise.resolve();
  private runs = 0;
  /** messages of the current run that came before they were awaited, and those awaited */
  private readonly arrived = new Map<string, Message>();
  private readonly waiters = new Map<string, { resolve(m: Message): void; reject(e: Error): void }>();
  private failure: Error | undefined;

  /** The pool of `parts` threads, the workers started if none run. */
  static of(parts: number): Pool {
    let p = Pool.pools.get(parts);
    if (!p) Pool.pools.set(parts, (p = new Pool(parts)));
    return p;
  }

  private constructor(readonly parts: number) {
    this.control = new Int32Array(new SharedArrayBuffer(4 * (STATE + parts)));
    this.joins = callingThreadTakesPart();
    this.first = this.joins ? 1 : 0;
    this.self = { control: this.control, id: 0, parts, last: true };
    const started = Array.from({ length: parts - this.first }, (_, i) => this.start(i + this.first));
    this.ports = Promise.all(started);
    // a start that fails is reported by the run that awaits it
    this.ports.catch(() => {});
  }

  /** A worker, once it has said it is ready: the calling thread waits for the workers at barriers,
   * and a browser may not start a worker while its main thread does not return to its event loop. */
  private start(id: number): Promise<Port> {
    return new Promise<Port>((resolve, reject) => {
      let ready = false;
      const onMessage = (m: Message) => {
        if (m.op === 'ready' && !ready) {
          ready = true;
          port.hold(false);
          resolve(port);
        } else this.received(m);
      };
      const onError = (e: Error) => {
        if (!ready) reject(e);
        this.crashed(e);
      };
      const port = isNode() ? startNode(onMessage, onError) : startBrowser(onMessage, onError);
      // a call awaits this: the process stays up for it
      port.hold(true);
      port.post({ op: 'init', id, parts: this.parts, control: this.control, last: this.joins });
    });
  }

  private received(m: Message): void {
    if (m.op === 'ready') return;
    const key = m.op === 'done' ? `done ${m.run} ${m.id}` : `error ${m.run}`;
    const waiter = this.waiters.get(key);
    if (waiter) {
      this.waiters.delete(key);
      waiter.resolve(m);
    } else if (m.run === this.runs) this.arrived.set(key, m);
  }

  /** Worker `id`'s done of run `run`, or the first error of the run (the process is kept up meanwhile). */
  private message(op: 'done' | 'error', run: number, ports: readonly Port[], id?: number): Promise<Message> {
    const key = op === 'done' ? `done ${run} ${id}` : `error ${run}`;
    const had = this.arrived.get(key);
    if (had) return Promise.resolve(had);
    for (const port of ports) port.hold(true);
    return new Promise<Message>((resolve, reject) => this.waiters.set(key, { resolve, reject })).finally(() => ports.forEach((port) => port.hold(false)));
  }

  private crashed(e: Error): void {
    this.failure = e;
    // kernels compiled from now on get workers of their own
    if (Pool.pools.get(this.parts) === this) Pool.pools.delete(this.parts);
    for (const w of this.waiters.values()) w.reject(e);
    this.waiters.clear();
  }

  /** Wake the parked workers to spin (workerSource.ts): a call is on its way, and while its inputs
   * are checked and copied in, a sleeping vCPU wakes (0.1–0.3 ms here) instead of after. */
  nudge(): void {
    for (let id = this.first; id < this.parts; id++) if (Atomics.load(this.control, STATE + id) === PARKED) Atomics.notify(this.control, STATE + id);
  }

  /** Send worker `id` a message: a parked worker is first sent back to its event loop. */
  private send(port: Port, id: number, message: unknown): void {
    this.unpark(id);
    port.post(message);
  }

  /** A parked worker back to its event loop (it leaves Atomics.wait at once). */
  private unpark(id: number): void {
    if (Atomics.compareExchange(this.control, STATE + id, PARKED, IDLE) === PARKED) Atomics.notify(this.control, STATE + id);
  }

  /** Give the threads a kernel's module, under `key`: this one now, the workers in turn. */
  load(key: number, m: ThreadModule): void {
    this.keys.add(key);
    if (this.joins) this.own.set(key, this.instantiate(m));
    this.queue = this.queue.then(async () => {
      (await this.ports).forEach((port, i) => this.send(port, i + this.first, { op: 'load', key, ...m }));
    });
  }

  /** The calling thread's copy of a module's kernels, over the shared memory. */
  private instantiate(m: ThreadModule): WireModule {
    const own: WireModule = { fns: null, error: undefined, tensors: m.tensors, sizes: { ...m.sizes, '#part': 0, '#parts': this.parts }, forward: m.forward, backward: m.backward };
    try {
      // the body compile() printed and assertSafeCode checked, as each worker instantiates it
      own.fns = new Function('$memory', m.body)(m.memory);
    } catch (e) {
      own.error = { name: (e as Error)?.name ?? 'Error', message: `deltagrad: could not make the kernels (${(e as Error)?.message ?? String(e)})` };
    }
    return own;
  }

  /** Run a loaded module's phases: this thread takes part 0 where it joins (synchronously, in its
   * turn in the queue), the workers the other parts; settles when every part has passed the last
   * barrier (where it does not join: when every worker has said done). */
  run(key: number, phases: readonly ('forward' | 'backward')[], before: () => void, after: () => void): Promise<void> {
    const job = this.queue.then(async () => {
      if (!this.keys.has(key)) throw new Error('deltagrad: this kernel was disposed (kernel.dispose()); compile it again to use it');
      if (this.failure) throw this.failure;
      const ports = await this.ports;
      before();
      const run = ++this.runs;
      this.arrived.clear();
      Atomics.store(this.control, ERROR, 0);
      Atomics.store(this.control, KEY, key);
      Atomics.store(this.control, PHASES, phaseCode(phases));
      Atomics.store(this.control, RUN, run);
      ports.forEach((port, i) => {
        const id = i + this.first;
        // a parked worker takes the run from the control words; one in its event loop, a message
        if (Atomics.compareExchange(this.control, STATE + id, PARKED, CLAIMED) === PARKED) Atomics.notify(this.control, STATE + id);
        else port.post({ op: 'run', key, phases, run });
      });
      if (this.joins) {
        const mine = runner()(this.self, this.own.get(key)!, phases, () => {});
        if (mine) throw errorOf(mine);
      } else for (let id = 0; id < this.parts; id++) await this.message('done', run, ports, id);
      // a worker's kernel threw: it posted the error before the last barrier
      if (Atomics.load(this.control, ERROR) !== 0) throw errorOf((await this.message('error', run, ports) as Extract<Message, { op: 'error' }>).error);
      after();
    });
    this.queue = job.catch(() => {});
    return job;
  }

  /** End a worker (a parked one is woken first: it leaves Atomics.wait for its event loop). */
  private stop(port: Port, id: number): void {
    this.unpark(id);
    port.terminate();
  }

  /** Forget a kernel's module; the last one gone ends the workers (a later kernel starts new ones). */
  unload(key: number): void {
    if (!this.keys.delete(key)) return;
    this.own.delete(key);
    const last = this.keys.size === 0;
    // a kernel compiled after this is given a new pool
    if (last && Pool.pools.get(this.parts) === this) Pool.pools.delete(this.parts);
    this.queue = this.queue.then(async () => {
      const ports = await this.ports.catch((): Port[] => []);
      ports.forEach((port, i) => (last ? this.stop(port, i + this.first) : this.send(port, i + this.first, { op: 'unload', key })));
    });
  }
}

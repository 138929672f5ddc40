// pool: the worker threads that run threaded kernels — one pool per thread count, shared by every
// kernel compiled with that count, started on first use and ended when the last kernel using it
// is disposed. Node: worker_threads, unref'd while idle (a process whose work is done exits without
// a dispose); a browser: Web Workers from a Blob URL. Both start from WORKER_SOURCE, code we ship.
//
// Worked example: compile(src, { threads: 2 }) twice → one pool of 2 workers; each kernel loads its
// module into both (key 1, key 2); kernel 1's forward → run(1, ['forward']): the pool hands the run
// to both workers and resolves when both have posted `done`. A worker that ran the last call waits
// parked for the next (workerSource.ts), and takes it from shared memory — a swap of its state word
// and a futex wake; one back in its event loop is posted a `run` message. Runs are queued: a pool
// runs one at a time (every worker takes part in every run), in the order they were asked for.
//
// Threads need SharedArrayBuffer and Atomics, which a browser gives only to a cross-origin isolated
// page (served with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:
// require-corp); threadsAvailable() says whether this runtime has them.
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

type Message = { op: 'done'; error?: { name: string; message: string } };

// the control words workerSource.ts reads (the same numbers there)
const KEY = 3;
const PHASES = 4;
const STATE = 8;
const IDLE = 0;
const PARKED = 1;
const CLAIMED = 2;
const phaseCode = (phases: readonly ('forward' | 'backward')[]) => (phases.includes('forward') ? 1 : 0) | (phases.includes('backward') ? 2 : 0);

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

interface Pending {
  left: number;
  error?: Error;
  resolve(): void;
  reject(e: Error): void;
}

export class Pool {
  private static readonly pools = new Map<number, Pool>();
  /** barrier words, the run handed to parked workers, each worker's state (workerSource.ts) */
  private readonly control: Int32Array;
  private readonly ports: Promise<Port[]>;
  private readonly keys = new Set<number>();
  private queue: Promise<unknown> = Promise.resolve();
  private pending: Pending | undefined;
  private failure: Error | undefined;

  /** The pool of `parts` workers, started if none is running. */
  static of(parts: number): Pool {
    let p = Pool.pools.get(parts);
    if (!p) Pool.pools.set(parts, (p = new Pool(parts)));
    return p;
  }

  private constructor(readonly parts: number) {
    this.control = new Int32Array(new SharedArrayBuffer(4 * (STATE + parts)));
    const started = Array.from({ length: parts }, (_, id) => this.start(id));
    this.ports = Promise.all(started);
    // a start that fails is reported by the run that awaits it
    this.ports.catch(() => {});
  }

  private async start(id: number): Promise<Port> {
    const onMessage = (m: Message) => this.received(m);
    const onError = (e: Error) => this.crashed(e);
    const port = isNode() ? startNode(onMessage, onError) : startBrowser(onMessage, onError);
    port.post({ op: 'init', id, parts: this.parts, control: this.control });
    return port;
  }

  private received(m: Message): void {
    const p = this.pending;
    if (!p || m.op !== 'done') return;
    if (m.error && !p.error) {
      const Kind = m.error.name === 'RangeError' ? RangeError : m.error.name === 'EvalError' ? EvalError : Error;
      p.error = new Kind(m.error.message);
    }
    if (--p.left === 0) {
      this.pending = undefined;
      if (p.error) p.reject(p.error);
      else p.resolve();
    }
  }

  private crashed(e: Error): void {
    this.failure = e;
    // kernels compiled from now on get workers of their own
    if (Pool.pools.get(this.parts) === this) Pool.pools.delete(this.parts);
    this.pending?.reject(e);
    this.pending = undefined;
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

  /** Give the workers a kernel's module, under `key`. */
  load(key: number, m: ThreadModule): void {
    this.keys.add(key);
    this.queue = this.queue.then(async () => {
      (await this.ports).forEach((port, id) => this.send(port, id, { op: 'load', key, ...m }));
    });
  }

  /** Run a loaded module's phases on every worker; settles when all are done. */
  run(key: number, phases: readonly ('forward' | 'backward')[], before: () => void, after: () => void): Promise<void> {
    const job = this.queue.then(async () => {
      if (!this.keys.has(key)) throw new Error('deltagrad: this kernel was disposed (kernel.dispose()); compile it again to use it');
      if (this.failure) throw this.failure;
      const ports = await this.ports;
      before();
      Atomics.store(this.control, 0, 0);
      Atomics.store(this.control, 2, 0);
      for (const port of ports) port.hold(true);
      try {
        await new Promise<void>((resolve, reject) => {
          this.pending = { left: ports.length, resolve, reject };
          Atomics.store(this.control, KEY, key);
          Atomics.store(this.control, PHASES, phaseCode(phases));
          ports.forEach((port, id) => {
            // a parked worker takes the run from the control words; one in its event loop, a message
            if (Atomics.compareExchange(this.control, STATE + id, PARKED, CLAIMED) === PARKED) Atomics.notify(this.control, STATE + id);
            else port.post({ op: 'run', key, phases });
          });
        });
      } finally {
        for (const port of ports) port.hold(false);
      }
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
    const last = this.keys.size === 0;
    // a kernel compiled after this is given a new pool
    if (last && Pool.pools.get(this.parts) === this) Pool.pools.delete(this.parts);
    this.queue = this.queue.then(async () => {
      const ports = await this.ports.catch((): Port[] => []);
      ports.forEach((port, id) => (last ? this.stop(port, id) : this.send(port, id, { op: 'unload', key })));
    });
  }
}

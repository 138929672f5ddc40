// Command-line flags shared by the training examples.
import { parseArgs } from 'node:util';

export interface Flags {
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  train: number | undefined;
  test: number | undefined;
  save: string | undefined;
  load: string | undefined;
  plot: string | undefined;
  quiet: boolean;
  /** --threads N: the whole network compiled with compile(…, { threads: N }) instead of the generated layers */
  threads: number | undefined;
}

export interface FlagDefaults {
  epochs: number;
  batch: number;
  lr: number;
  seed?: number;
}

const usage = (name: string, d: FlagDefaults) => `usage: npm run example:${name} -- [options]

  --epochs N     passes over the training set (default ${d.epochs}; 0 with --load: only evaluate)
  --batch N      mini-batch size (default ${d.batch})
  --lr X         learning rate (default ${d.lr})
  --seed N       seed of the data split, the initial weights and the shuffles (default ${d.seed ?? 1})
  --train N      train on the first N training samples only
  --test N       test on the first N held-out samples only
  --save FILE    write the trained weights to FILE (JSON)
  --load FILE    start from the weights in FILE (written by --save)
  --plot FILE    where to write the loss/accuracy plot (default examples/out/${name}.svg)
  --threads N    run the network as one compile()d program on N worker threads (docs/threads.md)
                 instead of the generated/ layers
  --quiet        no progress bar, only the epoch lines
  --help         this text`;

function positive(flag: string, v: string | undefined, fallback: number, integer: boolean, allowZero = false): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  const ok = Number.isFinite(x) && (allowZero ? x >= 0 : x > 0) && (!integer || Number.isInteger(x));
  if (!ok) throw new Error(`--${flag} must be ${integer ? 'a whole number' : 'a number'} ${allowZero ? '≥ 0' : '> 0'}, got ${JSON.stringify(v)}`);
  return x;
}

/** Parse process.argv (or `argv`); prints usage and exits on --help or a bad flag. */
export function parseFlags(name: string, defaults: FlagDefaults, argv: string[] = process.argv.slice(2)): Flags {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        epochs: { type: 'string' },
        batch: { type: 'string' },
        lr: { type: 'string' },
        seed: { type: 'string' },
        train: { type: 'string' },
        test: { type: 'string' },
        save: { type: 'string' },
        load: { type: 'string' },
        plot: { type: 'string' },
        quiet: { type: 'boolean' },
        threads: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage(name, defaults));
      process.exit(0);
    }
    return {
      epochs: positive('epochs', values.epochs, defaults.epochs, true, true),
      batch: positive('batch', values.batch, defaults.batch, true),
      lr: positive('lr', values.lr, defaults.lr, false),
      seed: positive('seed', values.seed, defaults.seed ?? 1, true, true),
      train: values.train === undefined ? undefined : positive('train', values.train, 0, true),
      test: values.test === undefined ? undefined : positive('test', values.test, 0, true),
      save: values.save,
      load: values.load,
      plot: values.plot,
      quiet: values.quiet ?? false,
      threads: values.threads === undefined ? undefined : positive('threads', values.threads, 1, true),
    };
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n\n${usage(name, defaults)}`);
    process.exit(2);
  }
}

/** Runs `f`; a failure (a weights file that is missing, malformed or of another model, a path that
 * cannot be written) ends the example with its message and exit code 1, not a stack trace. */
export function orExit<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(1);
  }
}

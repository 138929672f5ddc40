// debug: DEBUG=deltagrad (and DEBUG=deltagrad-verify) where there is an environment to read — Node's
// process.env — and nothing at all elsewhere (a browser has no process: the library never assumes one).
//
// Worked example: with DEBUG=deltagrad, debugging('deltagrad') is true and trace('check', ['Y[i] = …'])
// writes "[deltagrad] check" and the lines to the console's error stream.

const env = (): Readonly<Record<string, string | undefined>> | undefined =>
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;

export const debugging = (what: string): boolean => (env()?.DEBUG ?? '').split(',').includes(what);

export function trace(stage: string, lines: readonly string[]): void {
  console.error(`[deltagrad] ${stage}\n${lines.map((l) => `  ${l}`).join('\n')}`);
}

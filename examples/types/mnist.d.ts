// Types for the `mnist` package (10 000 real 28×28 MNIST digits as JSON, 0…1 per pixel). Only the
// parts the examples use are declared: one entry per digit class, with its raw pixels.
declare module 'mnist' {
  interface MnistDigit {
    /** the class, 0…9 */
    readonly id: number;
    /** every sample of this class, 784 values each, concatenated */
    readonly raw: readonly number[];
    /** how many samples of this class */
    readonly length: number;
  }
  const mnist: readonly MnistDigit[];
  export = mnist;
}

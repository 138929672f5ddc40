// InputError: the class of errors in what a caller passes (inputs, sizes), as opposed to a bad
// program or an internal fault. Its own module so the interpreter and its cost checks share it.
//
// Worked example: evaluate('Y[i] = X[i]', { X: [1, 2] }, { sizes: { I: 3 } }) throws
// InputError('input X must have 3 elements, got 2'); `derive --at` reports it as the user's to fix.

/** Bad inputs or sizes given to the interpreter (as opposed to a bad program or an internal fault):
 * callers such as `derive --at` report these as the user's to fix. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

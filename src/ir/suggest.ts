// suggest: "did you mean …?" for an unknown name — the nearest known name by edit distance.
//
// Worked example: suggest('sigmod', ['relu', 'sigmoid', …]) is 'sigmoid' (distance 1, within a
// third of 6 letters); suggest('xyz', …) is undefined. The distance is computed in a band of two rows
// and gives up past the bound, so two 20 000-character names cost nothing (the full matrix took 3.9 GB).

/** Names longer than this get no "did you mean": a typo is not 65 characters long. */
const SUGGEST_LENGTH = 64;

/** The edit distance of a and b when it is at most `max`, else undefined. Two rows of the band
 *  |i − j| ≤ max: O(max·|a|) time and O(|b|) memory (the full matrix of two 20 000-character names
 *  took 3.9 GB). */
export function editDistanceWithin(a: string, b: string, max: number): number | undefined {
  if (Math.abs(a.length - b.length) > max) return undefined;
  const far = max + 1; // stands for any distance past max
  let prev = Array.from({ length: b.length + 1 }, (_, j) => (j <= max ? j : far));
  let row = Array<number>(b.length + 1).fill(far);
  for (let i = 1; i <= a.length; i++) {
    row.fill(far);
    row[0] = i <= max ? i : far;
    let best = row[0]!;
    for (let j = Math.max(1, i - max); j <= Math.min(b.length, i + max); j++) {
      row[j] = Math.min(far, prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      best = Math.min(best, row[j]!);
    }
    if (best > max) return undefined; // every path already costs more
    [prev, row] = [row, prev];
  }
  return prev[b.length]! <= max ? prev[b.length]! : undefined;
}

/** The option nearest to `name` within a third of its length (at least 1), if any. */
export function suggest(name: string, options: readonly string[]): string | undefined {
  if (name.length > SUGGEST_LENGTH) return undefined;
  const max = Math.max(1, Math.floor(name.length / 3));
  let best: { name: string; d: number } | undefined;
  for (const o of options) {
    const d = editDistanceWithin(name, o, max);
    if (d !== undefined && (!best || d < best.d)) best = { name: o, d };
  }
  return best?.name;
}

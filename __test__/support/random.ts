// Random stores for the tests, from a seeded generator (support/prng.js): the same seed
// gives the same store, and the seed is in every assertion message.
import { rng } from './prng';

export { rng };
export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

const STRINGS = ['', 'a', 'ord-1', 'ord-2', 'é', '😀', 'line\nbreak', 'quote"d', 'back\\slash', '\ud800', 'x'.repeat(40)];

/** A random JSON-safe value of bounded depth. */
export function value(random: () => number, depth = 0): unknown {
  const r = random();
  if (depth > 2 || r < 0.5) {
    return pick(random, [0, 1, -1, 2.5, 1e21, -0, true, false, null, ...STRINGS]);
  }
  if (r < 0.75) return Array.from({ length: Math.floor(random() * 3) }, () => value(random, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(random() * 4); i > 0; i--)
    o[pick(random, ['a', 'b', 'orderId', 'n', '__proto__', '0'])] = value(random, depth + 1);
  return o;
}

/** A random message as a user might save it. */
export function message(random: () => number): Record<string, unknown> {
  const m: Record<string, unknown> = { type: pick(random, ['A', 'B', 'C', 'Créé', 'D\u0000']) };
  if (random() < 0.8)
    m.data =
      random() < 0.9
        ? { orderId: pick(random, ['ord-1', 'ord-2', 'ord-3']), n: Math.floor(random() * 3), extra: value(random) }
        : value(random);
  if (random() < 0.5) m.requestId = pick(random, ['req-1', 'req-2', '', 'req-3']);
  if (random() < 0.5) m.correlationId = pick(random, ['c-1', 'c-2', 'c-3']);
  if (random() < 0.2) m.timestamp = new Date(Date.UTC(2024, 0, 1) + Math.floor(random() * 1e9));
  return m;
}

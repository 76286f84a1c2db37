// Pulling from a subscription in the tests: a fixed number of messages, and a bound on
// how long a pull may wait (a subscription that misses a message hangs, it never errs).

/** The next `n` messages, pulled one at a time; an end before that is a failure. */
export async function take(sub: any, n: number): Promise<any[]> {
  const out: any[] = [];
  for (let i = 0; i < n; i++) {
    const r = await sub.next();
    if (r.done) throw new Error(`the subscription ended after ${i} of ${n}`);
    out.push(r.value);
  }
  return out;
}

/** Resolves with `p`'s value, or rejects if it takes longer than `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

'use strict';

// A small seeded generator (mulberry32) for the tests and the benchmark's workload:
// the same seed gives the same sequence. Plain JavaScript so that child processes
// (crash-child.js) and benchmark/ can use it too.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

module.exports = { rng };

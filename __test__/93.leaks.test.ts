// Issue 4, item 5: no native memory leaks. Runs scripts/leak-check.js (which runs each
// phase in a fresh child process with --expose-gc) once, and checks its exit code and
// its report, one line per phase. See the script for what each phase measures.
import { execFile } from 'node:child_process';
import * as path from 'node:path';

const script = path.resolve(__dirname, '..', 'scripts', 'leak-check.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

let run: Run;

beforeAll(async () => {
  const started = Date.now();
  run = await new Promise<Run>((resolve) => {
    execFile(process.execPath, ['--expose-gc', script], { maxBuffer: 1 << 20, timeout: 170_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}, 180_000);

const phaseLine = (phase: string) => run.stdout.split('\n').find((l) => l.startsWith(`leak-check: ${phase} `));

test('the script exits 0 and prints its summary line', () => {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  expect(run.stdout).toMatch(/^leak-check: PASS \(5 phases, \d+\.\d s\)$/m);
  // It must finish in reasonable time (well under the 2 minutes budgeted for it).
  expect(run.seconds).toBeLessThan(150);
});

test('reset: 50 rounds of 100,000 messages, RSS after each within 15% of the first round', () => {
  const line = phaseLine('reset');
  expect(line).toMatch(
    /^leak-check: reset rounds=50 messages\/round=100000 .* first=[\d.]+MB min=[\d.]+MB max=[\d.]+MB .*ratio=[\d.]+ ok$/,
  );
  const ratio = Number(/ratio=([\d.]+)/.exec(line!)![1]);
  expect(ratio).toBeGreaterThanOrEqual(0.85);
  expect(ratio).toBeLessThanOrEqual(1.15);
});

test.each(['drop', 'dispose'])('%s: 1,000 stores of 1,000 messages, 4 cycles, RSS comes back within 15%%', (phase) => {
  const line = phaseLine(phase);
  expect(line).toMatch(new RegExp(`^leak-check: ${phase} cycles=4 stores/cycle=1000x1000msgs .* ok$`));
  expect(Number(/ratio=([\d.]+)/.exec(line!)![1])).toBeLessThanOrEqual(1.15);
});

test('churn: 3,000 dropped stores are collected without an explicit gc while the event loop turns', () => {
  const line = phaseLine('churn');
  expect(line).toMatch(/^leak-check: churn stores=3000x1000msgs .* ok$/);
  expect(Number(/growth\/churned=([\d.]+)/.exec(line!)![1])).toBeLessThanOrEqual(0.15);
});

test('tight: stores dropped in a loop that never yields are released once it yields', () => {
  const line = phaseLine('tight');
  expect(line).toMatch(/^leak-check: tight stores=3000x1000msgs\/loop .* ok$/);
  expect(Number(/ratio=([\d.]+)/.exec(line!)![1])).toBeLessThanOrEqual(1.15);
});

test('the script refuses to run without --expose-gc', async () => {
  const result = await new Promise<{ code: unknown; stderr: string }>((resolve) => {
    execFile(process.execPath, [script, 'reset'], (error, _stdout, stderr) => resolve({ code: error?.code, stderr }));
  });
  expect(result).toEqual({ code: 2, stderr: 'leak-check: run with node --expose-gc scripts/leak-check.js\n' });
});

'use strict';

// The `message-store` command (bin/message-store.js; docs/cli.md): reads the command
// line, runs the command with Ctrl-C wired to an AbortSignal, and turns what went
// wrong into a message on stderr and an exit status (usage.js, EXIT). Data goes to
// stdout, everything else to stderr.

const fs = require('node:fs');
const path = require('node:path');
const { CODES } = require('../errors');
const { EXIT, UsageError, usageText, read } = require('./usage');
const { write } = require('./output');
const move = require('./move');
const look = require('./look');

const RUN = {
  copy: move.copy,
  export: move.exportHistory,
  import: move.importHistory,
  tail: look.tail,
  stats: look.stats,
  streams: look.streams,
  sessions: look.sessions,
};

/** The exit status of an error a command ended with, and what to print. */
function outcome(e, command) {
  if (e instanceof UsageError) return { status: EXIT.usage, text: usageText(e) };
  if (e.exit === EXIT.interrupted) return { status: EXIT.interrupted, text: `${e.message}\n` };
  const status =
    e.exit ?? (e.code === CODES.InvalidHistory ? EXIT.invalidHistory : e.code === CODES.NotEmpty ? EXIT.notEmpty : EXIT.failed);
  return { status, text: `message-store ${command}: ${e.message}\n` };
}

/**
 * Runs the command line `argv` (without node and the script); resolves to the exit
 * status. Interrupts (SIGINT, SIGTERM) abort the command's signal; a second one ends
 * the process at once (a copy or import keeps its whole chunks either way).
 */
async function main(argv) {
  let asked;
  try {
    asked = read(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(usageText(e));
    return EXIT.usage;
  }
  if (asked.help !== undefined) {
    await write(process.stdout, asked.help);
    return EXIT.done;
  }
  if (asked.version) {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
    await write(process.stdout, `${pkg.version}\n`);
    return EXIT.done;
  }
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A reader that goes away (EPIPE) fails the next write (output.js), not the process.
  process.stdout.on('error', () => {});
  const io = {
    stdout: process.stdout,
    stdin: process.stdin,
    signal: controller.signal,
    out: (text) => write(process.stdout, text),
    err: (text) => process.stderr.write(text),
  };
  try {
    await RUN[asked.command](asked.args, asked.options, io);
    return EXIT.done;
  } catch (e) {
    const { status, text } = outcome(e, asked.command);
    process.stderr.write(text);
    return status;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Runs the command and ends the process with its exit status once stdout is written. */
function run(argv) {
  main(argv).then(
    (status) => process.stdout.write('', () => process.exit(status)),
    (e) => {
      process.stderr.write(`message-store: ${e?.stack ?? e}\n`);
      process.exit(EXIT.failed);
    },
  );
}

module.exports = { main, run };

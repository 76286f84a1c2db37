'use strict';

// The commands that move a history: copy, export and import. Each streams (pages of
// text in, chunks of lines out: memory stays flat), stops between chunks on Ctrl-C,
// and resumes when its target holds the history's start.

const fs = require('node:fs');
const { openToWrite, openSource, sameStore } = require('./stores');
const { count, plural, shown, write, Progress, LineCounter } = require('./output');
const { UsageError } = require('./usage');

/**
 * A CLI failure with its exit status: what the command prints and how it ends.
 * `error.exit` is read by main.js.
 */
function failure(message, exit) {
  return Object.assign(new Error(message), { exit });
}

/**
 * Passes `source`'s pieces on, adding the message lines each holds to `progress`.
 * Each piece waits for a turn of the event loop: a store's pages and imports are
 * answered in the call, so without it a whole copy runs in one turn, and neither
 * Ctrl-C nor the progress bar would get one.
 */
async function* counted(source, counter, progress, verb) {
  let started = false;
  for await (const piece of source) {
    await new Promise((resolve) => setImmediate(resolve));
    const n = counter.add(piece);
    if (!started && counter.header !== null) {
      started = true;
      // Every message line read, those a resumed import skips too.
      progress.start(verb, counter.header.messages ?? 0);
    }
    progress.add(n);
    yield piece;
  }
}

/** `messages` messages, and the header's streams and sessions, as a summary says them. */
function what(messages, header) {
  return `${plural(messages, 'message')} (${plural(header.streams, 'stream')}, ${plural(header.sessions.length, 'session')})`;
}

/** The target's head, and whether it holds anything (then the history is resumed into it). */
async function targetState(target) {
  const s = await target.getStats();
  return { head: s.totalMessages, holds: s.totalMessages > 0 || s.totalStreams > 0 || s.totalSessions > 0 };
}

function resumingLine(head) {
  return head > 0
    ? `resuming: the target holds positions 1 to ${count(head)} already\n`
    : "resuming: the target holds the history's first streams and sessions already\n";
}

/** Imports `source` into `target`; an interrupt becomes the exit 130 failure, naming the target's head. */
async function importInto(target, source, { resume, signal }) {
  try {
    return await target.importHistory(source, { resume, signal });
  } catch (e) {
    if (signal.aborted) throw await interrupted(target);
    throw e;
  }
}

async function interrupted(target) {
  const { head } = await targetState(target);
  return failure(`interrupted after position ${count(head)}: run the same command again to continue`, 130);
}

/** `copy <from> <to>` */
async function copy({ from, to }, { quiet }, io) {
  if (sameStore(from, to)) throw new UsageError('<from> and <to> name the same store', 'copy');
  const source = openSource(from);
  let target;
  let opened;
  /** Whether the target file, when this made it, goes again: until the import is whole. */
  let failed = false;
  const progress = new Progress(quiet);
  try {
    opened = openToWrite(to);
    target = opened.store;
    const { head, holds } = await targetState(target);
    failed = !holds;
    if (holds && !quiet) io.err(resumingLine(head));
    const counter = new LineCounter();
    const pages = source.exportHistory({ after: holds ? Math.max(head - 1, 0) : 0 });
    const result = await importInto(target, counted(pages, counter, progress, 'copying'), { resume: holds, signal: io.signal });
    failed = false;
    progress.stop();
    const last = Number(result.lastPosition);
    if (io.signal.aborted) throw await interrupted(target);
    const [ours, theirs, stats] = await Promise.all([source.historyDigest(last), target.historyDigest(last), target.getStats()]);
    if (io.signal.aborted) throw await interrupted(target);
    const header = counter.header;
    if (stats.totalMessages !== last || ours.sha256 !== theirs.sha256 || Number(theirs.lastPosition) !== last) {
      throw failure(
        stats.totalMessages !== last || Number(theirs.lastPosition) !== last
          ? `the check failed: the target holds ${plural(stats.totalMessages, 'message')} where the source held ${count(last)} when the copy started`
          : `the check failed: positions 1 to ${count(last)} have sha256 ${ours.sha256} in the source and ${theirs.sha256} in the target`,
        5,
      );
    }
    if (!quiet) {
      const both = last === 0 ? 'both hold no messages' : `both hold positions 1 to ${count(last)}`;
      const thisRun = holds ? `, ${count(last - head)} of them in this run` : '';
      io.err(`copied ${what(last, header)} from ${shown(from)} to ${shown(to)}${thisRun}; checked: ${both}, sha256 ${ours.sha256}\n`);
    }
    const now = await source.head();
    if (now > last) io.err(`the source gained ${plural(now - last, 'message')} during the copy; run copy again to bring them over\n`);
  } catch (e) {
    // An interrupted copy is kept: it resumes.
    if (e.exit === 130) failed = false;
    throw e;
  } finally {
    progress.stop();
    await source.close();
    if (target) await target.dispose();
    if (failed) opened.discard();
  }
}

/** `export <from> [file]` */
async function exportHistory({ from, file = '-' }, { quiet }, io) {
  const toFile = file !== '-';
  const partial = `${file}.partial`;
  const source = openSource(from);
  const progress = new Progress(quiet);
  let out = io.stdout;
  try {
    if (toFile) {
      out = fs.createWriteStream(partial);
      await new Promise((resolve, reject) => {
        out.once('open', resolve);
        out.once('error', reject);
      });
    }
    const counter = new LineCounter();
    /** The last position written out (an export holds every position from 1). */
    let sent = 0;
    for await (const page of counted(source.exportHistory(), counter, progress, 'exporting')) {
      if (io.signal.aborted) break;
      try {
        await write(out, page);
        sent = counter.messages;
      } catch (e) {
        if (e.code !== 'EPIPE') throw e;
        throw failure('standard output was closed (EPIPE): the export is cut short', 1);
      }
    }
    progress.stop();
    if (io.signal.aborted) {
      if (!toFile) throw failure(`interrupted after position ${count(sent)}: the output is cut short there`, 130);
      await closeAndRemove(out, partial);
      throw failure(`interrupted: ${file} was not written`, 130);
    }
    if (toFile) {
      await new Promise((resolve, reject) => out.end((/** @type {any} */ e) => (e ? reject(e) : resolve(undefined))));
      fs.renameSync(partial, file);
    }
    if (!quiet)
      io.err(`exported ${what(counter.header.messages, counter.header)} from ${shown(from)} to ${toFile ? file : 'standard output'}\n`);
  } catch (e) {
    if (toFile && fs.existsSync(partial)) await closeAndRemove(out, partial);
    throw e;
  } finally {
    progress.stop();
    await source.close();
  }
}

async function closeAndRemove(out, partial) {
  if (!out.closed) await new Promise((resolve) => out.destroy() && out.once('close', resolve));
  fs.rmSync(partial, { force: true });
}

/** `import <file> <to>` */
async function importHistory({ file, to }, { quiet }, io) {
  const fromStdin = file === '-';
  const name = fromStdin ? 'standard input' : file;
  if (!fromStdin) {
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch (e) {
      throw failure(`cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, 1);
    }
  }
  const progress = new Progress(quiet);
  const opened = openToWrite(to);
  const target = opened.store;
  let failed = false;
  try {
    const { head, holds } = await targetState(target);
    failed = !holds;
    if (holds && !quiet) io.err(resumingLine(head));
    const input = fromStdin ? io.stdin : fs.createReadStream(file);
    const counter = new LineCounter();
    let result;
    try {
      result = await importInto(target, counted(input, counter, progress, 'importing'), { resume: holds, signal: io.signal });
    } catch (e) {
      if (e.exit === undefined) e.message = `${name}: ${e.message}`;
      throw e;
    } finally {
      if (!fromStdin) input.destroy();
    }
    progress.stop();
    if (!quiet) {
      const thisRun = holds ? `, ${count(Number(result.lastPosition) - head)} of them in this run` : '';
      io.err(`imported ${what(counter.header.messages, counter.header)} from ${name} to ${shown(to)}${thisRun}\n`);
    }
    failed = false;
  } catch (e) {
    if (e.exit === 130) failed = false;
    throw e;
  } finally {
    progress.stop();
    await target.dispose();
    if (failed) opened.discard();
  }
}

module.exports = { copy, exportHistory, importHistory, failure };

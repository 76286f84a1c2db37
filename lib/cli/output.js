'use strict';

// What the `message-store` command prints: numbers, tables, locators as they may be
// shown, data written with backpressure, and the progress bar (cli-progress), which
// only a terminal sees.

const cliProgress = require('cli-progress');

/** `1234567` → `1,234,567`, whatever the machine's locale. */
const count = (n) => Number(n).toLocaleString('en-US');

/** `n thing` or `n things`. */
const plural = (n, one, many = `${one}s`) => `${count(n)} ${Number(n) === 1 ? one : many}`;

/**
 * Rows as aligned columns, two spaces apart; a column whose heading is in `right` is
 * aligned right (numbers). No trailing spaces.
 * @param {string[]} headings
 * @param {Array<Array<string | number>>} rows
 * @param {Set<string>} [right]
 */
function table(headings, rows, right = new Set()) {
  const cells = [headings, ...rows.map((r) => r.map(String))];
  const widths = headings.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const line = (r) =>
    r
      .map((cell, c) => (right.has(headings[c]) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  return `${cells.map(line).join('\n')}\n`;
}

/** A locator as it may be printed: a PostgreSQL URL's password hidden. */
function shown(locator) {
  if (!/^postgres(ql)?:\/\//.test(locator)) return locator;
  try {
    const url = new URL(locator);
    if (url.password === '') return locator;
    url.password = '***';
    return url.toString();
  } catch {
    return locator;
  }
}

/**
 * Writes `text` to `stream`, waiting for 'drain' when its buffer is full
 * (backpressure). Rejects once the stream has failed (EPIPE: the reader went away).
 */
function write(stream, text) {
  if (stream.errored) return Promise.reject(stream.errored);
  if (stream.write(text)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (e) => {
      stream.off('drain', done);
      stream.off('error', done);
      if (e) reject(e);
      else resolve();
    };
    stream.on('drain', done);
    stream.on('error', done);
  });
}

/**
 * Progress of long work on stderr: messages done of the total, the rate and the time
 * left. Only on a terminal and without `quiet`: otherwise every method does nothing.
 */
class Progress {
  #bar = null;
  #started = 0;
  #done = 0;

  constructor(quiet) {
    if (quiet || !process.stderr.isTTY) return;
    this.#bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: '{verb} [{bar}] {percentage}% | {done}/{all} messages | {rate} msg/s | {eta_formatted} left',
        barsize: 30,
        etaBuffer: 100,
        etaAsynchronousUpdate: true,
        fps: 5,
        hideCursor: true,
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  /** Shows the bar for `total` messages. */
  start(verb, total) {
    if (this.#bar === null) return;
    this.#started = Date.now();
    this.#bar.start(Math.max(total, 1), 0, { verb, done: '0', all: count(total), rate: '0' });
  }

  /** `n` more messages are done. */
  add(n) {
    if (this.#bar === null || n === 0) return;
    this.#done += n;
    const seconds = (Date.now() - this.#started) / 1000;
    this.#bar.update(this.#done, { done: count(this.#done), rate: count(seconds > 0 ? Math.round(this.#done / seconds) : 0) });
  }

  /** Removes the bar (before anything else is printed). */
  stop() {
    if (this.#bar === null) return;
    this.#bar.stop();
    this.#bar = null;
  }
}

/** The start of every message line of a history: a line is a message when it starts with its position. */
const MESSAGE_LINE = '\n{"position":';

/**
 * Counts the message lines of a history text as its pieces pass (strings or bytes, cut
 * anywhere), and reads its header line: what the progress shows.
 */
class LineCounter {
  /** The header, once its line has passed (null: not yet, or not JSON). */
  header = null;
  /** The message lines that have passed. */
  messages = 0;
  #headerText = '';
  #headerDone = false;
  #tail = '';
  #tailBytes = Buffer.alloc(0);
  #pattern = Buffer.from(MESSAGE_LINE);

  /** The message lines that start in `piece`. */
  add(piece) {
    const n = this.#count(piece);
    this.messages += n;
    return n;
  }

  #count(piece) {
    if (!this.#headerDone) this.#readHeader(piece);
    if (typeof piece === 'string') {
      const text = this.#tail + piece;
      this.#tail = text.slice(-(MESSAGE_LINE.length - 1));
      return occurrences(text, MESSAGE_LINE);
    }
    const bytes = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    // Within the piece, then across its start: a line start the cut split in two.
    const across = Buffer.concat([this.#tailBytes, bytes.subarray(0, this.#pattern.length - 1)]);
    const n = occurrences(bytes, this.#pattern) + occurrences(across, this.#pattern);
    const kept = Buffer.concat([this.#tailBytes, bytes.subarray(Math.max(0, bytes.length - this.#pattern.length + 1))]);
    this.#tailBytes = Buffer.from(kept.subarray(Math.max(0, kept.length - this.#pattern.length + 1)));
    return n;
  }

  #readHeader(piece) {
    const text = typeof piece === 'string' ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength).toString('utf8');
    const end = text.indexOf('\n');
    this.#headerText += end === -1 ? text : text.slice(0, end);
    if (end === -1) return;
    this.#headerDone = true;
    try {
      this.header = JSON.parse(this.#headerText);
    } catch {
      // The import names what is wrong with it.
    }
  }
}

/** How many times `pattern` occurs in `text` (a string or bytes). */
function occurrences(text, pattern) {
  let n = 0;
  for (let i = text.indexOf(pattern); i !== -1; i = text.indexOf(pattern, i + pattern.length)) n++;
  return n;
}

module.exports = { count, plural, table, shown, write, Progress, LineCounter };

'use strict';

// The text forms that cross to the native side besides messages, written here and read
// by `src/binding/wire.rs`, their one reader: a save's header line, a filter, and the
// numbers that stand for expectation modes and message types (Rust's, checked against
// `wireCodes()` by __test__/82.errors.test.ts). Names cross as their JSON literals
// (`JSON.stringify(name)`), so every JavaScript string survives the trip.

/**
 * The expected-revision modes besides a revision, and the number that stands for each
 * (Rust's `Expected::from_code`, and the PostgreSQL append function): `'any'` checks
 * nothing and crosses as no expectation at all.
 */
const EXPECTED_MODES = Object.freeze({ no_stream: -2, stream_exists: -3 });

/** The message types by their code (Rust's `MessageKind::code`): in saves, filters and result pages. */
const MESSAGE_TYPES = Object.freeze(['command', 'event']);

/**
 * The first line of a save in a `saveMany` payload (Rust's `SaveHeader`): the message
 * type's code or `-` (the store decides), `1` for a batch or `0`, the save time in
 * epoch ms, then, after a space, the expected revision's number or nothing.
 */
function saveHeader(kind, batch, now, expected) {
  return `${kind === undefined ? '-' : kind}${batch ? 1 : 0}${now}${expected === undefined ? '' : ` ${expected}`}`;
}

/**
 * A checked filter as the JSON text `wire::filter` reads: `MessageFilter`'s field names,
 * ids as strings, positions as integers, timestamps as epoch milliseconds, the message
 * type as its code, and `jsonFilter` as `[[key, value], [key]]` (a lone key stands for
 * `undefined`). `fields` holds only what filters.
 */
function filter(fields) {
  return JSON.stringify(fields);
}

/** What a filter no message can meet crosses as: nothing (the read is not made). */
const NEVER = Symbol('no message can match');

module.exports = { EXPECTED_MODES, MESSAGE_TYPES, saveHeader, filter, NEVER };

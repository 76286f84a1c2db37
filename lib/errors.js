'use strict';

// The error classes users catch, and the one place where errors thrown by the native
// module (each with a stable `code`) become them. They are built here, in
// JavaScript, so that they are instances of the caller's `Error` (jest runs each test
// file in its own realm; an error made by native code belongs to another).

const check = require('./validate');

const { no_stream: NO_STREAM, stream_exists: STREAM_EXISTS } = require('./wire').EXPECTED_MODES;

/** A save refused because the stream is not at the revision the caller expected. */
class ConcurrencyError extends Error {
  constructor(message, streamId, expectedRevision, actualRevision) {
    super(message);
    this.name = this.constructor.name;
    /** The stream the save was for. */
    this.streamId = streamId;
    /** The revision the caller expected, as a bigint, or the mode (`'no_stream'`, `'stream_exists'`). */
    this.expectedRevision = expectedRevision;
    /** The stream's revision when the save was refused; -1n when it has no messages or does not exist. */
    this.actualRevision = actualRevision;
  }
}

/** The stream does not exist, and an expected revision other than -1 was given. */
class StreamNotFoundError extends ConcurrencyError {
  constructor(streamId, expectedRevision) {
    super(
      `Stream ${streamId} does not exist, but expected revision ${expectedRevision} was provided`,
      streamId,
      BigInt(expectedRevision),
      -1n,
    );
  }
}

/** The stream exists at another revision than the one expected. */
class WrongExpectedRevisionError extends ConcurrencyError {
  constructor(streamId, expectedRevision, actualRevision) {
    super(
      `Expected revision ${expectedRevision} but stream is at revision ${actualRevision}`,
      streamId,
      BigInt(expectedRevision),
      BigInt(actualRevision),
    );
  }
}

/**
 * Why a save expecting `expected` (the number `expectedRevision` gives: a revision, or
 * a mode's number, `EXPECTED_MODES` in wire.js) is refused by a stream at `actual`
 * (-1: no messages; null: it does not exist), or null when it may go on.
 * `expectedRevision` is what the caller wrote. Upstream's two texts are kept; the
 * modes' refusals are `ConcurrencyError`s with `expectedRevision` the mode's name.
 */
function refusal(streamId, expectedRevision, expected, actual) {
  switch (expected) {
    case NO_STREAM:
      if (actual === null || actual === -1) return null;
      return new ConcurrencyError(
        `Expected stream ${streamId} not to exist, but it is at revision ${actual}`,
        streamId,
        'no_stream',
        BigInt(actual),
      );
    case STREAM_EXISTS:
      if (actual !== null && actual >= 0) return null;
      return new ConcurrencyError(`Expected stream ${streamId} to exist, but it has no messages`, streamId, 'stream_exists', -1n);
    default:
      if (actual === null) return expected === -1 ? null : new StreamNotFoundError(streamId, expectedRevision);
      return actual === expected ? null : new WrongExpectedRevisionError(streamId, expectedRevision, actual);
  }
}

// The codes of the native module's errors, by the names Rust gives them (`Code` in
// src/binding/error.rs, the list these must equal: __test__/82.errors.test.ts).
const CODES = Object.freeze({
  InvalidArgument: 'ERR_MESSAGE_STORE_INVALID_ARGUMENT',
  StreamNotFound: 'ERR_MESSAGE_STORE_STREAM_NOT_FOUND',
  WrongExpectedRevision: 'ERR_MESSAGE_STORE_WRONG_EXPECTED_REVISION',
  CapacityExceeded: 'ERR_MESSAGE_STORE_CAPACITY_EXCEEDED',
  OpenFailed: 'ERR_MESSAGE_STORE_OPEN_FAILED',
  WriteFailed: 'ERR_MESSAGE_STORE_WRITE_FAILED',
  Closed: 'ERR_MESSAGE_STORE_CLOSED',
  ConnectFailed: 'ERR_MESSAGE_STORE_CONNECT_FAILED',
  Reset: 'ERR_MESSAGE_STORE_RESET',
  AuthFailed: 'ERR_MESSAGE_STORE_AUTH_FAILED',
  TlsUnavailable: 'ERR_MESSAGE_STORE_TLS_UNAVAILABLE',
  TlsUnknownAuthority: 'ERR_MESSAGE_STORE_TLS_UNKNOWN_CA',
  TlsHostMismatch: 'ERR_MESSAGE_STORE_TLS_HOST_MISMATCH',
  TlsExpired: 'ERR_MESSAGE_STORE_TLS_CERT_EXPIRED',
  HandshakeClosed: 'ERR_MESSAGE_STORE_HANDSHAKE_CLOSED',
  FailoverTimeout: 'ERR_MESSAGE_STORE_FAILOVER_TIMEOUT',
  InvalidHistory: 'ERR_MESSAGE_STORE_INVALID_HISTORY',
  NotEmpty: 'ERR_MESSAGE_STORE_NOT_EMPTY',
  ReadOnly: 'ERR_MESSAGE_STORE_READ_ONLY',
});

/** The number an `expectedRevision` as the caller wrote it stands for (see `refusal`). */
function expectedNumber(expectedRevision) {
  return check.expectedRevision(expectedRevision);
}

/** An Error with the native code kept, for the file store's failures. */
function withCode(message, code) {
  return Object.assign(new Error(message), { code });
}

/**
 * Turns an error thrown by the native module into the caller's error. `save` gives
 * what a concurrency error needs: the stream, the expected revision as the caller
 * wrote it, and how to read the stream's revision now.
 */
function fromNative(error, save = {}) {
  switch (error?.code) {
    case CODES.StreamNotFound:
    case CODES.WrongExpectedRevision: {
      // Without the save's context (a refusal in a group), the engine's own text.
      if (save.actualRevision === undefined) return withCode(String(error.message), error.code);
      // The engine refused what JavaScript did not check first (a stream it did not know).
      const actual = error.code === CODES.StreamNotFound ? null : save.actualRevision();
      return (
        refusal(save.streamId, save.expectedRevision, expectedNumber(save.expectedRevision), actual) ?? new Error(String(error.message))
      );
    }
    case CODES.InvalidArgument:
      return new TypeError(String(error.message));
    case CODES.CapacityExceeded:
      return new RangeError(String(error.message));
    case CODES.OpenFailed:
      return withCode(`cannot open the message store: ${error.message}`, error.code);
    case CODES.WriteFailed:
      return withCode(`message store write failed: ${error.message}`, error.code);
    case CODES.Closed:
    case CODES.ConnectFailed:
    case CODES.Reset:
    case CODES.AuthFailed:
    case CODES.TlsUnavailable:
    case CODES.TlsUnknownAuthority:
    case CODES.TlsHostMismatch:
    case CODES.TlsExpired:
    case CODES.HandshakeClosed:
    case CODES.FailoverTimeout:
    case CODES.InvalidHistory:
    case CODES.NotEmpty:
    case CODES.ReadOnly:
      return withCode(String(error.message), error.code);
    default:
      // A Rust panic, caught at the boundary: the store refused the call and is intact.
      return new Error(`@auto-engineer/message-store: internal error: ${error?.message}`);
  }
}

module.exports = { ConcurrencyError, StreamNotFoundError, WrongExpectedRevisionError, fromNative, refusal, CODES };

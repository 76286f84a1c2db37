'use strict';

// The error classes users catch, and the one place where errors thrown by the native
// module (each with a stable `code`) become them. They are built here, in
// JavaScript, so that they are instances of the caller's `Error` (jest runs each test
// file in its own realm; an error made by native code belongs to another).

/** A save refused because the stream is not at the revision the caller expected. */
class ConcurrencyError extends Error {
  constructor(message, streamId, expectedRevision, actualRevision) {
    super(message);
    this.name = this.constructor.name;
    /** The stream the save was for. */
    this.streamId = streamId;
    /** The revision the caller expected, as a bigint. */
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
});

/** An Error with the native code kept, for the file store's failures. */
function withCode(message, code) {
  const e = new Error(message);
  e.code = code;
  return e;
}

/**
 * Turns an error thrown by the native module into the caller's error. `save` gives
 * what a concurrency error needs: the stream, the expected revision as the caller
 * wrote it, and how to read the stream's revision now.
 */
function fromNative(error, save = {}) {
  switch (error?.code) {
    case CODES.StreamNotFound:
      return new StreamNotFoundError(save.streamId, save.expectedRevision);
    case CODES.WrongExpectedRevision:
      return new WrongExpectedRevisionError(save.streamId, save.expectedRevision, save.actualRevision());
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
      return withCode(String(error.message), error.code);
    default:
      // A Rust panic, caught at the boundary: the store refused the call and is intact.
      return new Error(`@auto-engineer/message-store: internal error: ${error?.message}`);
  }
}

module.exports = { ConcurrencyError, StreamNotFoundError, WrongExpectedRevisionError, fromNative, CODES };

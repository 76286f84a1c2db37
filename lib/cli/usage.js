'use strict';

// The command line: what each command takes, its help text, and reading the arguments
// (Node's util.parseArgs). A bad argument is a UsageError: exit status 2.

const { parseArgs } = require('node:util');
const { parseLocator } = require('../open');

/** Exit statuses (docs/cli.md#exit-statuses). */
const EXIT = Object.freeze({
  done: 0,
  failed: 1,
  usage: 2,
  invalidHistory: 3,
  notEmpty: 4,
  checkFailed: 5,
  interrupted: 130,
});

const EXIT_TEXT = `exit statuses:
  0    done
  1    a store failed (connection, file, anything unexpected)
  2    usage: bad arguments, an unknown locator
  3    the history is invalid (a malformed line, cut short, an unknown format version)
  4    the target is not empty, or holds another history
  5    a copy's check failed: the target does not hold the source's messages
  130  interrupted (Ctrl-C, SIGTERM): a copy or import keeps whole chunks; run it again to continue
`;

const LOCATORS = `stores:
  memory:                                  an empty store in this process (a copy's target, to check)
  ./bus.db, sqlite:./bus.db                a SQLite file
  postgres://user:pw@host/db?schema=bus    a PostgreSQL schema (default message_store)
`;

const QUIET = { quiet: { type: 'boolean', short: 'q' } };
const JSON_OPTION = { json: { type: 'boolean' } };

/**
 * Each command: its positional arguments (`[name]` optional), its options, the line
 * `--help` and usage errors show, and what it does.
 */
const COMMANDS = {
  copy: {
    args: ['from', 'to'],
    locators: ['from', 'to'],
    options: QUIET,
    usage: 'message-store copy <from> <to> [--quiet]',
    summary: 'copy every stream, message and session of one store into another, checked at the end',
    help: `Copies the history of <from> into <to>: every stream, message and session, with
their positions, revisions, types, save times and sessions. <to> must be empty, or
hold the start of <from>'s history (an interrupted copy): the copy then resumes
where it stopped, and writes nothing twice. At the end it checks that both hold
the same messages (counts, and SHA-256 of every message). The copy is <from> as it
was when it started: messages saved to it meanwhile are left for the next run,
which brings them over.

options:
  -q, --quiet    no progress and no summary
  -h, --help     this text
`,
  },
  export: {
    args: ['from', '[file]'],
    locators: ['from'],
    options: QUIET,
    usage: 'message-store export <from> [file] [--quiet]',
    summary: "write a store's history as NDJSON to a file (- or none: standard output)",
    help: `Writes the history of <from> as NDJSON (docs/cli.md#the-history-format) to
[file], or to standard output when it is - or absent. A file is written as
<file>.partial and renamed once whole, so <file> is never half-written.

options:
  -q, --quiet    no progress and no summary
  -h, --help     this text
`,
  },
  import: {
    args: ['file', 'to'],
    locators: ['to'],
    options: QUIET,
    usage: 'message-store import <file> <to> [--quiet]',
    summary: 'write an NDJSON history (- : standard input) into a store',
    help: `Writes the NDJSON history in <file> (- : standard input) into <to>, which must
be empty, or hold the history's start (an interrupted import): the import then
resumes where it stopped. Each chunk of lines is checked whole before it is
written; a bad line is named with its number, and an import into an empty store
that fails leaves it empty.

options:
  -q, --quiet    no progress and no summary
  -h, --help     this text
`,
  },
  tail: {
    args: ['store'],
    locators: ['store'],
    options: {
      stream: { type: 'string' },
      names: { type: 'string' },
      after: { type: 'string' },
      ...JSON_OPTION,
    },
    usage: 'message-store tail <store> [--stream S] [--names A,B] [--after P] [--json]',
    summary: 'print messages as they are saved, until Ctrl-C',
    help: `Follows <store> and prints a line for each message saved to it, until Ctrl-C
(exit status 0):
  #12 orders@3 OrderPlaced event 2026-12-04T19:45:01.123Z {"total":30}
(position, stream@revision, type, command or event, save time, data).

options:
  --stream S     only the messages of stream S
  --names A,B    only messages whose type is A or B
  --after P      start after position P (0: every stored message first); default:
                 the store's last position, so only new messages
  --json         one JSON object a line (positions and revisions as numbers)
  -h, --help     this text
`,
  },
  stats: {
    args: ['store'],
    locators: ['store'],
    options: JSON_OPTION,
    usage: 'message-store stats <store> [--json]',
    summary: 'counts of messages, commands, events, streams, sessions; first and last save time',
    help: `Prints the counts of <store> (messages, commands, events, streams, sessions) and
its first and last save time, as a table or, with --json, one JSON object.

options:
  --json         one JSON object
  -h, --help     this text
`,
  },
  streams: {
    args: ['store'],
    locators: ['store'],
    options: JSON_OPTION,
    usage: 'message-store streams <store> [--json]',
    summary: 'every stream, in creation order',
    help: `Prints every stream of <store> in creation order: its revision, message count,
first and last position, creation and last save time; a table or, with --json, a
JSON array.

options:
  --json         a JSON array
  -h, --help     this text
`,
  },
  sessions: {
    args: ['store'],
    locators: ['store'],
    options: JSON_OPTION,
    usage: 'message-store sessions <store> [--json]',
    summary: 'every session',
    help: `Prints every session of <store>: its start, last activity, and counts of
messages, commands and events; a table or, with --json, a JSON array.

options:
  --json         a JSON array
  -h, --help     this text
`,
  },
};

/** `copy <from> <to>`: a command's usage without the program's name and the options. */
function synopsis(c) {
  return c.usage.replace('message-store ', '').replace(/ \[--.*$/, '');
}

const HELP = `usage: message-store <command> [arguments] [options]

Moves a message store's history between stores, and looks into a store.

commands:
${Object.values(COMMANDS)
  .map((c) => `  ${synopsis(c).padEnd(22)}  ${c.summary}`)
  .join('\n')}

${LOCATORS}
options:
  -h, --help       this text; message-store <command> --help for a command's
  --version        the package's version

${EXIT_TEXT}
More: docs/cli.md in the package (@auto-engineer/message-store).
`;

/** A bad command line: its message, and the command's usage line (or the general hint). */
class UsageError extends Error {
  constructor(message, command) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** The text a UsageError prints. */
function usageText(e) {
  if (e.command === undefined) return `message-store: ${e.message}\nrun 'message-store --help' for the commands\n`;
  return `message-store ${e.command}: ${e.message}\nusage: ${COMMANDS[e.command].usage}\n`;
}

/** The full help of `command`. */
function commandHelp(command) {
  const c = COMMANDS[command];
  return `usage: ${c.usage}\n\n${c.help}\n${c.locators.length > 0 ? `${LOCATORS}\n` : ''}${EXIT_TEXT}`;
}

/**
 * What the command line asks: `{ help }` (the text to print), `{ version: true }`, or
 * `{ command, args: { name: value }, options }`. Throws a UsageError.
 * @param {string[]} argv
 */
function read(argv) {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given');
  if (first === '-h' || first === '--help' || first === 'help') {
    if (rest.length > 0 && Object.hasOwn(COMMANDS, rest[0])) return { help: commandHelp(rest[0]) };
    return { help: HELP };
  }
  if (first === '--version') return { version: true };
  if (first.startsWith('-')) throw new UsageError(`unknown option ${first}`);
  if (!Object.hasOwn(COMMANDS, first)) throw new UsageError(`unknown command '${first}'`);
  const command = first;
  const spec = COMMANDS[command];
  const options = { ...spec.options, help: { type: 'boolean', short: 'h' } };
  const { values, positionals, tokens } = parseArgs({ args: rest, options, allowPositionals: true, strict: false, tokens: true });
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const known = options[t.name];
    if (known === undefined) throw new UsageError(`unknown option ${t.rawName}`, command);
    if (known.type === 'string' && (t.value === undefined || (t.inlineValue !== true && t.value.startsWith('-') && t.value !== '-'))) {
      throw new UsageError(`${t.rawName} needs a value`, command);
    }
    if (known.type === 'boolean' && t.inlineValue) throw new UsageError(`${t.rawName} takes no value`, command);
  }
  if (values.help) return { help: commandHelp(command) };
  const args = {};
  spec.args.forEach((a, i) => {
    const optional = a.startsWith('[');
    const name = optional ? a.slice(1, -1) : a;
    const value = positionals[i];
    if (value === undefined && !optional) throw new UsageError(`missing <${name}>`, command);
    if (value !== undefined) args[name] = value;
  });
  if (positionals.length > spec.args.length) throw new UsageError(`unexpected argument '${positionals[spec.args.length]}'`, command);
  for (const name of spec.locators) {
    try {
      parseLocator(args[name]);
    } catch (e) {
      throw new UsageError(`<${name}>: ${e.message}`, command);
    }
  }
  return { command, args, options: values };
}

module.exports = { EXIT, COMMANDS, HELP, UsageError, usageText, commandHelp, read };

'use strict';

// The real client's requests, for the client trial (trial.js `client`): what
// auto-engineer's CLI message-bus server does with its store, replayed without HTTP
// so that only the store and the route's own JavaScript are timed. The server keeps
// every command and event in the one stream '$all' (one saveMessages call per
// message, awaited), and its dashboard polls routes that read the whole history back
// (packages/cli/src/server/http-routes.ts, the pipeline graph of src/dsl/index.ts).
// Each route function returns what express's res.json would send (the JSON text),
// with the count of items in it so that run.js can check both stores agree.
// Works over any store with the package's API: ours or baseline.js.

const { rng } = require('../__test__/support/prng');

/** The pipeline's commands (its nodes), and the two events each one's handler emits. */
const COMMANDS = {
  CreateItem: ['ItemCreated', 'ItemIndexed'],
  ExportSchema: ['SchemaExported', 'SchemaValidated'],
  GenerateServer: ['ServerGenerated', 'FilesWritten'],
  ImplementSlice: ['SliceImplemented', 'SliceTested'],
  CheckTests: ['TestsCheckPassed', 'TestsCheckReported'],
  CheckTypes: ['TypeCheckPassed', 'TypeCheckReported'],
  CheckLint: ['LintCheckPassed', 'LintCheckReported'],
  StartServer: ['ServerStarted', 'ServerReady'],
};
const NODES = Object.keys(COMMANDS);
/** The event `GET /messages?messageNames=…` asks for. */
const NAMED_EVENT = 'SchemaExported';

/**
 * The bus's traffic, deterministic: a command then the two events its handler emits,
 * repeating. Events carry their command's requestId and correlationId, as the bus's
 * do; ten commands in a row share a correlation (one pipeline run). About 300 bytes
 * of JSON each.
 */
function traffic(seed = 7) {
  const random = rng(seed);
  let group = 0; // commands so far
  let command = null;
  let left = 0; // events still to come from `command`
  const data = (kind, g) => ({
    projectId: 'proj-42',
    itemId: `item-${Math.floor(random() * 5000)}`,
    sliceId: `slice-${g % 97}`,
    path: `/app/src/slices/slice-${g % 97}/${kind}.ts`,
    description: 'Generated from the narrative specification',
    attempt: 1 + Math.floor(random() * 3),
    options: { dryRun: false, target: 'node', retries: g % 4 },
  });
  /** A new command, starting a new group. */
  const nextCommand = () => {
    const g = group++;
    const type = NODES[Math.floor(random() * NODES.length)];
    command = { type, data: data('command', g), requestId: `req-${g}`, correlationId: `corr-${Math.floor(g / 10)}` };
    left = 2;
    return ['command', command];
  };
  return {
    nextCommand,
    /** The next message of the sequence, as [messageType, message]. */
    next() {
      if (left === 0) return nextCommand();
      const type = COMMANDS[command.type][2 - left--];
      return ['event', { type, data: data('event', group - 1), requestId: command.requestId, correlationId: command.correlationId }];
    },
  };
}

/** What the routes do to each positional message before res.json: bigints as strings. */
const serialize = (m) => ({ ...m, revision: m.revision.toString(), position: m.position.toString() });

/** The server's routes over `store`, with the pipeline cache they share (one per server). */
function routes(store) {
  let cachedGraph = null;
  let lastMessageCount = 0;

  const send = (body, count) => ({ text: JSON.stringify(body), count });

  /** The dsl's graph: each node's status reads the whole history again (one read per node). */
  async function graph() {
    const nodes = await Promise.all(
      NODES.map(async (name) => {
        const all = await store.getAllMessages();
        const runs = all
          .filter((m) => m.messageType === 'command' && m.message.type === name)
          .sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
        const last = runs[runs.length - 1];
        return { id: name, name, status: runs.length ? 'pass' : 'idle', runs: runs.length, lastRun: last ? last.timestamp : null };
      }),
    );
    const edges = NODES.slice(1).map((to, k) => ({ from: NODES[k], to }));
    return { nodes, edges };
  }

  return {
    /** POST /command, as far as the store sees it: one save of one message, awaited. */
    save: (messageType, message) => store.saveMessages('$all', [message], undefined, messageType),

    /** GET /messages (`names`: ?messageNames=…): the whole '$all' stream, filtered in JavaScript. */
    async messages(names) {
      let all = await store.getMessages('$all');
      if (names) all = all.filter((m) => names.includes(m.message.type));
      const page = all.slice(-1000).map(serialize);
      return send(page, page.length);
    },

    async commands() {
      const page = (await store.getAllCommands(undefined, 1000)).map(serialize);
      return send(page, page.length);
    },

    /** GET /events answers in its legacy shape: the message and its save time only. */
    async events() {
      const events = await store.getAllEvents(undefined, 1000);
      const page = events.map((e) => ({ event: e.message, timestamp: e.timestamp.toISOString() }));
      return send(page, page.length);
    },

    async streams() {
      const streams = await store.getStreams();
      return send(streams, streams.length);
    },

    async stats() {
      const stats = await store.getStats();
      return send(stats, stats.totalMessages);
    },

    /** GET /pipeline, which the dashboard polls: rebuilt only when the message count moved. */
    async pipeline() {
      const { totalMessages } = await store.getStats();
      if (cachedGraph === null || totalMessages !== lastMessageCount) {
        cachedGraph = await graph();
        lastMessageCount = totalMessages;
      }
      return send(
        cachedGraph,
        cachedGraph.nodes.reduce((sum, node) => sum + node.runs, 0),
      );
    },
  };
}

module.exports = { traffic, routes, COMMANDS, NODES, NAMED_EVENT };

// Kills every other client connection to the database DATABASE_URL (argv[2]) names,
// from a connection of its own, as an administrator would: the tests' own build has
// the hook (`pnpm build:test-hooks`).
const path = require('node:path');
const build = path.resolve(__dirname, '../../.tmp/test-hooks/message-store.linux-x64-gnu.node');
const native = require(build);
native
  .testPgExec(
    process.argv[2],
    // Materialized first: in one WHERE, PostgreSQL may call pg_terminate_backend before
    // the other conditions, and so on its own connection.
    "WITH targets AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend') SELECT pg_terminate_backend(pid) FROM targets",
  )
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });

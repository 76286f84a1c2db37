#!/usr/bin/env node
'use strict';

// `message-store`: copy, export, import, tail, stats, streams, sessions (docs/cli.md).
// The package's `bin`: `npx message-store --help`.

require('../index.js');
require('../lib/cli/main.js').run(process.argv.slice(2));

/**
 * patchbay-adapter-example: how a third party writes a host adapter. It depends only on
 * `@patchbay/core`'s public entry and default-exports a definition; a config names it by
 * package name (`adapter: patchbay-adapter-example`) and the gateway loads it. It appends
 * every event it is handed to a file as one JSON line and, when given a `commandSocket`,
 * takes commands as JSON lines there: the smallest adapter that honours the whole contract
 * (start/stop, deliver, snapshot, one reply per command), in the shape every adapter here has
 * (`index.ts` the definition, `config.ts`, `adapter.ts`, `transport/`, a conformance test).
 */
import { defineAdapter } from '@patchbay/core';
import { createExampleAdapter } from './adapter.js';
import { exampleConfig } from './config.js';

export { exampleConfig, type ExampleConfig } from './config.js';

/** The `example-jsonl` adapter definition. */
const exampleAdapter = defineAdapter({
  type: 'example-jsonl',
  description: 'Appends every event to a file as JSON lines, takes commands as JSON lines on a Unix socket (an example third-party adapter)',
  config: exampleConfig,
  create: createExampleAdapter,
});

export default exampleAdapter;

import { defineProject } from 'vitest/config';
import { sharedProjectConfig } from '../../vitest.shared.ts';

// Every CLI test spawns a real gateway (tsx from source): on a loaded 2-core machine a start
// alone can take seconds, so the waits inside each test (events, not clocks) get room.
export default defineProject(sharedProjectConfig({ testTimeout: 60_000 }));

import { defineProject } from 'vitest/config';
import { sharedProjectConfig } from '../../vitest.shared.ts';

/** The fault suite and the fuzz pass (`npm run test:faults`): not part of plain `npm test`. */
const config = sharedProjectConfig({ include: ['e2e/**/*.faults.spec.ts'], testTimeout: 330_000 });
// Its own results file, so `npm test`'s closing summary counts the fault suite beside the rest.
config.test.reporters = ['default', ['json', { outputFile: '.vitest-faults-results.json' }]];

export default defineProject(config);

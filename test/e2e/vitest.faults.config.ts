import { defineProject } from 'vitest/config';
import { sharedProjectConfig } from '../../vitest.shared.ts';

/** The fault suite and the fuzz pass (`npm run test:faults`): not part of plain `npm test`. */
export default defineProject(sharedProjectConfig({ include: ['e2e/**/*.faults.spec.ts'], testTimeout: 330_000 }));

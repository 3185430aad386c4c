import { defineProject } from 'vitest/config';
import { sharedProjectConfig } from '../vitest.shared.ts';

export default defineProject(sharedProjectConfig({ include: ['*.test.ts', 'e2e/**/*.test.ts'], testTimeout: 60_000 }));

import { defineProject } from 'vitest/config';
import { sharedProjectConfig } from '../vitest.shared.ts';

export default defineProject(sharedProjectConfig({ include: ['test/**/*.test.ts'], testTimeout: 60_000 }));

import { jeedomMode } from './jeedom.js';
import type { Mode } from './mode.js';

/** Every mode: a host that starts Patchbay as its daemon, by its own command line. */
export const modes: readonly Mode[] = [jeedomMode];
/** The options of built-ins that do not carry their own embedded defaults yet. */
export { embeddedFallback } from './embedded.js';
export type { Mode } from './mode.js';

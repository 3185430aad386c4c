/** Every mode, and the options of built-ins that do not carry their own embedded defaults yet. */
export { embeddedFallback } from './embedded.js';
export { jeedomMode } from './jeedom.js';
export type { Mode } from './mode.js';

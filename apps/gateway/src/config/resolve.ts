import { isAbsolute, join, resolve } from 'node:path';
import type { GatewayOptions } from '@patchbay/core';
import type { ValidatedConfig } from './validate.js';

/** A validated config turned into what the run needs: paths made absolute, old names mapped to new. */
export interface ResolvedConfig extends ValidatedConfig {
  /** `gateway.dataDir`, absolute. */
  dataDir: string;
  /** The journal's directory, when journaling. */
  journalDir: string | undefined;
  /** What core's outboxes get (`maxQueue`, the deprecated name, read as `maxPendingReplies`). */
  outbox: NonNullable<GatewayOptions['outbox']>;
}

/** Resolves a validated config against the working directory `cwd`. Pure: no I/O. */
export function resolveConfig(validated: ValidatedConfig, cwd: string): ResolvedConfig {
  const { gateway } = validated.config;
  const dataDir = isAbsolute(gateway.dataDir) ? gateway.dataDir : resolve(cwd, gateway.dataDir);
  const maxPendingReplies = gateway.outbox.maxPendingReplies ?? gateway.outbox.maxQueue;
  return {
    ...validated,
    dataDir,
    journalDir: gateway.journal.enabled ? join(dataDir, 'journal') : undefined,
    outbox: { maxBatch: gateway.outbox.maxBatch, ...(maxPendingReplies !== undefined ? { maxPendingReplies } : {}) },
  };
}

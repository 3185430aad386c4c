import type { Counter, Logger } from '@patchbay/core';
import type { TracimConfig } from '../config.js';
import { MAX_WIRE_BYTES, shrinkTlmEnvelope } from './wire.js';

/** What the size policy needs besides the message. */
export interface SizePolicy {
  policy: TracimConfig['sizePolicy'];
  /** The master socket path, the envelope's `path` when a TLM is re-encoded shrunk. */
  masterPath: string;
  logger: Logger;
  oversize: Counter | undefined;
}

/**
 * The size policy of protocols/tracim.md §10 for one outgoing message: SDK readers take at
 * most 4096 bytes (§2.4). `tlmText` is the TLM inside a `daemon_tracim_event`, which `shrink`
 * may blank strings of. Returns the bytes to send, or undefined to skip it.
 */
export function fitMessage(policy: SizePolicy, message: { bytes: Buffer; type: string; tlmText?: string }): Buffer | undefined {
  const { bytes, type, tlmText } = message;
  if (bytes.length <= MAX_WIRE_BYTES) return bytes;
  policy.oversize?.inc();
  if (policy.policy === 'verbatim') {
    policy.logger.warn(`${type} of ${bytes.length} bytes sent whole (sizePolicy verbatim): SDK clients read at most 4096 bytes and may lose it or crash`);
    return bytes;
  }
  if (policy.policy === 'shrink' && tlmText !== undefined) {
    const shrunk = shrinkTlmEnvelope(policy.masterPath, tlmText);
    if (shrunk) {
      policy.logger.warn({ blanked: shrunk.blanked }, `${type} shrunk from ${bytes.length} to ${shrunk.bytes.length} bytes to fit 4096: blanked ${shrunk.blanked.join(', ')}`);
      return shrunk.bytes;
    }
  }
  policy.logger.warn(`${type} of ${bytes.length} bytes does not fit the 4096-byte limit (sizePolicy ${policy.policy}): skipped`);
  return undefined;
}

/**
 * The decode worker's entry (see decodePool.ts): takes a large frame's raw line, answers with
 * the decoded request, the reply when it is refused anyway (workerRefusals.ts), or the reason
 * the frame is bad. One frame at a time, so it decodes
 * without slicing.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeRequest } from './framing.js';
import { decodeRequestPayload } from './payload.js';
import type { MethodShape } from './registry.js';
import { RefusalEngine } from './workerRefusals.js';
import { decodeCall } from './xmlDecode.js';
import type { DecodeJob, DecodeResult } from './decodePool.js';

const { encryptionKey, methods } = workerData as { encryptionKey?: string; methods: MethodShape[] };
const refusals = new RefusalEngine(methods, encryptionKey);

/**
 * On a machine with few cores the worker's decoding competes with the event loop for a core:
 * it runs at a lower priority (nice +10, this thread only: Linux takes a thread id there), so
 * a large request is what waits, not every device and host. Elsewhere it runs as it is.
 */
try {
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 10);
} catch {
  // No /proc/thread-self (not Linux): the default priority.
}
const port = parentPort;

/** The blocks of the frame whose line is still coming (one frame at a time). */
let gathered: Uint8Array[] = [];

port?.on('message', ({ blocks, last }: DecodeJob) => {
  gathered.push(...blocks);
  if (!last) return;
  const line = gathered;
  gathered = [];
  void decode(line).then((result) => port.postMessage(result));
});

async function decode(blocks: Uint8Array[]): Promise<DecodeResult> {
  let frame;
  try {
    frame = decodeRequest(Buffer.concat(blocks).toString('latin1').trim());
  } catch (error) {
    return { kind: 'badFrame', reason: error instanceof Error ? error.message : String(error) };
  }
  const request = await decodeRequestPayload(frame, { encryptionKey, decodeXml: decodeCall });
  // A request no method would run for is answered here: its large value never crosses over.
  const answered = await refusals.answer(request);
  return answered ? { kind: 'answered', ...answered } : { kind: 'decoded', request };
}

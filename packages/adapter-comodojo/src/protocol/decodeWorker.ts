/**
 * The decode worker's entry (see decodePool.ts): takes a large frame's raw line, answers with
 * the decoded request or the reason the frame is bad. One frame at a time, so it decodes
 * without slicing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeRequest } from './framing.js';
import { decodeRequestPayload } from './payload.js';
import { decodeCall } from './xmlDecode.js';
import type { DecodeJob, DecodeResult } from './decodePool.js';

const { encryptionKey } = workerData as { encryptionKey?: string };
const port = parentPort;

port?.on('message', (job: DecodeJob) => {
  void decode(job).then((result) => port.postMessage(result));
});

async function decode({ blocks }: DecodeJob): Promise<DecodeResult> {
  let frame;
  try {
    frame = decodeRequest(Buffer.concat(blocks).toString('latin1').trim());
  } catch (error) {
    return { kind: 'badFrame', reason: error instanceof Error ? error.message : String(error) };
  }
  return { kind: 'decoded', request: await decodeRequestPayload(frame, { encryptionKey, decodeXml: decodeCall }) };
}

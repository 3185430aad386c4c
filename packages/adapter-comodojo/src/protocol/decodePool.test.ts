import { describe, expect, it } from 'vitest';
import { DecodePool, HANDOVER_BLOCKS } from './decodePool.js';
import { encodeFrame } from './framing.js';
import { MethodRegistry } from './registry.js';

describe('decode pool', () => {
  it('comodojo - a frame that cannot be handed to the worker gets its one rejection, and the next frame is still decoded (the pool does not jam)', async () => {
    const pool = new DecodePool({ registry: new MethodRegistry() });
    try {
      // A block whose memory is gone (transferred away): postMessage throws DataCloneError.
      const gone = Buffer.from(new ArrayBuffer(16));
      structuredClone(gone.buffer, { transfer: [gone.buffer] });
      const bad = pool.decode({ blocks: [gone], length: 16 });
      const next = pool.decode({ blocks: [Buffer.from(new TextEncoder().encode('not a frame\n'))], length: 12 });
      await expect(bad).rejects.toThrow(/detached/);
      await expect(next).resolves.toMatchObject({ kind: 'badFrame' });
      expect(pool.busy).toBe(0);
    } finally {
      await pool.stop();
    }
  });

  it('comodojo - 13.8: a large frame goes to the worker in several messages, with turns of the event loop between, and decodes as one', async () => {
    const pool = new DecodePool({ registry: new MethodRegistry() });
    try {
      const line = Buffer.from(encodeFrame({ content_type: 'application/json', message: JSON.stringify({ jsonrpc: '2.0', method: 'no.such', params: ['y'.repeat(300_000)], id: 7 }) }), 'latin1');
      // Pieces of their own memory, as the splitter hands over socket reads.
      const size = 4096;
      const blocks = Array.from({ length: Math.ceil(line.length / size) }, (_, i) => {
        const piece = line.subarray(i * size, (i + 1) * size);
        const own = Buffer.allocUnsafeSlow(piece.length);
        piece.copy(own);
        return own;
      });
      const messages = Math.ceil(blocks.length / HANDOVER_BLOCKS);
      expect(messages).toBeGreaterThan(2);
      const result = pool.decode({ blocks, length: line.length });
      // Queued after the hand-over began: it runs while the frame is still going over.
      const seen = await new Promise<number>((resolve) => setImmediate(() => resolve(pool.handedOver)));
      expect(seen).toBeGreaterThan(0);
      expect(seen).toBeLessThan(messages);
      const decoded = await result;
      expect(pool.handedOver).toBe(messages);
      expect(decoded).toMatchObject({ kind: 'answered' });
      expect(decoded.kind === 'answered' && decoded.text).toBe(encodeFrame({ status: true, message: JSON.stringify({ jsonrpc: '2.0', id: 7, error: { code: -32601, message: 'Method not found' } }) }));
    } finally {
      await pool.stop();
    }
  });
});

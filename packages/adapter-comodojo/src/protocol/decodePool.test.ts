import { describe, expect, it } from 'vitest';
import { DecodePool } from './decodePool.js';
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
});

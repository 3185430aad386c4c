import { describe, expect, it } from 'vitest';
import { serialConfig } from './config.js';

describe('serial config', () => {
  it('config - a path alone gets every default', () => {
    expect(serialConfig.parse({ path: '/dev/ttyUSB0' })).toEqual({
      path: '/dev/ttyUSB0',
      baudRate: 115200,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
      rtscts: false,
      framing: { type: 'delimiter', delimiter: '\n' },
      codec: 'jsonl',
      maxFrameBytes: 4096,
      commandTimeoutMs: 2000,
      maxQueuedWrites: 1000,
      reconnect: { delays: [100, 250, 500, 1000], jitter: 0.2 },
    });
  });

  it('config - length framing gets its defaults', () => {
    expect(serialConfig.parse({ path: '/dev/x', framing: { type: 'length' } }).framing).toEqual({ type: 'length', lengthBytes: 2, endian: 'big' });
  });

  it('config - mistakes are named by path', () => {
    const result = serialConfig.safeParse({ path: '', parity: 'sometimes', framing: { type: 'length', lengthBytes: 3 }, codec: 'xml', baudrate: 9600 });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((i) => i.path.join('.') || i.code);
    expect(paths).toEqual(expect.arrayContaining(['path', 'parity', 'framing.lengthBytes', 'codec']));
    // A misspelt option is an error, not silently ignored.
    expect(result.error?.issues.some((i) => i.code === 'unrecognized_keys' && i.keys.includes('baudrate'))).toBe(true);
  });
});

import { silentLogger } from '@patchbay/core';
import { describe, expect, it } from 'vitest';
import { acquireBus, releaseBus } from './bus.js';
import { connectionConfig } from './config.js';

describe('modbus - bus registry', () => {
  it('gives devices on one path the same bus, and refuses other line settings for it', async () => {
    const options = { logger: silentLogger, offlineAfterTimeouts: 3 };
    const a = acquireBus(connectionConfig.parse({ type: 'rtu', path: '/dev/ttyX-test', baudRate: 9600 }), options);
    const b = acquireBus(connectionConfig.parse({ type: 'rtu', path: '/dev/ttyX-test', baudRate: 9600 }), options);
    expect(b).toBe(a);
    expect(() => acquireBus(connectionConfig.parse({ type: 'rtu', path: '/dev/ttyX-test', baudRate: 19200 }), options)).toThrow(/already in use with other settings/);
    const other = acquireBus(connectionConfig.parse({ type: 'tcp', host: '127.0.0.1', port: 1502 }), options);
    expect(other).not.toBe(a);
    await releaseBus(a);
    await releaseBus(b);
    await releaseBus(other);
    // Released by its last user: the next one gets a fresh bus.
    const c = acquireBus(connectionConfig.parse({ type: 'rtu', path: '/dev/ttyX-test', baudRate: 19200 }), options);
    expect(c).not.toBe(a);
    await releaseBus(c);
  });
});

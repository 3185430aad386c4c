/**
 * @patchbay/driver-sim: a simulated device (temperature, humidity, relay), so the gateway
 * runs and is testable with no hardware at all.
 */
import { defineDriver } from '@patchbay/core';
import { z } from 'zod';
import { SimulatedDevice, simulatedDescription } from './simulatedDevice.js';

export { SimulatedDevice, simulatedDescription, type SimulatedDeviceOptions, type SimulatedReport } from './simulatedDevice.js';

/** Options of the `sim` driver. */
export const simConfig = z
  .object({
    /** Period of temperature and humidity reports, ms. */
    interval: z.number().int().min(1).max(86_400_000).default(1000),
    initial: z
      .object({
        temperature: z.number().default(21),
        humidity: z.number().min(0).max(100).default(45),
        relay: z.boolean().default(false),
      })
      .prefault({}),
  })
  .strict();

/** The `sim` driver definition. */
const simDriver = defineDriver({
  type: 'sim',
  description: 'A simulated device: temperature and humidity drift, a relay changed by command',
  config: simConfig,
  create(config, ctx) {
    const device = new SimulatedDevice(config, (channel, value) => ctx.emit(channel, value));
    return {
      start: () => {
        ctx.describe(simulatedDescription(config.interval));
        device.start();
      },
      stop: () => device.stop(),
      send: (command) => device.command(command),
    };
  },
});

export default simDriver;

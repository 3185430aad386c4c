/**
 * @patchbay/driver-sim: a simulated device (temperature, humidity, relay), so the gateway
 * runs and is testable with no hardware at all.
 */
import { defineDriver, type DeviceDescriptionInput } from '@patchbay/core';
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
    /**
     * Start the drift reports at a random point of the first interval rather than one interval
     * after start: devices started together (a bench's 10,000) then report at the steady rate
     * they add up to, as sensors powered up together do, not in one burst every interval.
     */
    spread: z.boolean().optional(),
  })
  .strict();

/**
 * One frozen description per report interval, handed to every device of that interval: the core
 * checks a frozen description once, not for each of 10,000 devices alike.
 */
const descriptions = new Map<number, DeviceDescriptionInput>();
function sharedDescription(interval: number): DeviceDescriptionInput {
  let description = descriptions.get(interval);
  if (description === undefined) descriptions.set(interval, (description = deepFreeze(simulatedDescription(interval))));
  return description;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}

/** The `sim` driver definition. */
const simDriver = defineDriver({
  type: 'sim',
  description: 'A simulated device: temperature and humidity drift, a relay changed by command',
  config: simConfig,
  create(config, ctx) {
    const phase = config.spread === true ? Math.floor(Math.random() * config.interval) : undefined;
    // Without spread the parsed options go in as they are: devices with the same options share them.
    const device = new SimulatedDevice(phase === undefined ? config : { ...config, phase }, (channel, value) => ctx.emit(channel, value));
    return {
      start: () => {
        ctx.describe(sharedDescription(config.interval));
        device.start();
      },
      stop: () => device.stop(),
      send: (command) => device.command(command),
    };
  },
});

export default simDriver;

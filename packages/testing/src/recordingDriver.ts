import type { CommandEvent, DriverDefinition } from '@patchbay/core';

/**
 * A real driver's definition with every command its driver is asked recorded as the driver
 * got it, after the core's checks and conversion: tests count them ("the driver is never
 * called") and compare their values ("the driver sees true, never \"1\"").
 */
export function recordingDriver(definition: DriverDefinition): { definition: DriverDefinition; sent: CommandEvent[] } {
  const sent: CommandEvent[] = [];
  return {
    sent,
    definition: {
      ...definition,
      create: (config, ctx) => {
        const inner = definition.create(config, ctx);
        return {
          start: () => inner.start(),
          stop: () => inner.stop(),
          send: (command) => {
            sent.push(structuredClone(command));
            return inner.send(command);
          },
        };
      },
    },
  };
}

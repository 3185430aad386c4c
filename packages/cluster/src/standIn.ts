import { defineDriver, type CommandEvent, type DriverContext, type DriverDefinition, type ReplyInit } from '@patchbay/core';
import { z } from 'zod';

/** What a stand-in driver is wired to: the link that knows what its device's owner says. */
export interface StandInWiring {
  /** The driver started: here is the context to tell the core through. */
  attach(ctx: DriverContext): void;
  detach(): void;
  /** Forward a command to the owner. */
  send(command: CommandEvent): Promise<ReplyInit>;
}

/**
 * The driver that stands for one remote device in this core. It owns no I/O: the link feeds
 * it what the owner publishes, and its `send` is the link's request to the owner. The core
 * adds its timeout around `send`, as for any driver.
 */
export function standInDefinition(wiring: StandInWiring): DriverDefinition {
  return defineDriver({
    type: 'cluster-remote',
    description: 'a device of another gateway of the cluster',
    config: z.object({}),
    create: (_config, ctx) => ({
      start: () => wiring.attach(ctx),
      stop: () => wiring.detach(),
      send: (command) => wiring.send(command),
    }),
  });
}

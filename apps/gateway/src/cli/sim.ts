import type { CodecName } from '@patchbay/driver-serial';
import { InvalidArgumentError, Option, type Command } from 'commander';

/**
 * `patchbay sim --serial PATH [--codec jsonl|kv] [--interval MS]`: the simulated device as
 * firmware on a serial line, for the device end of a pty pair (issue 3). A config then
 * bridges it with `{ id: thermo-serial, driver: serial, options: { path: <other end> } }`.
 * Runs until SIGTERM or SIGINT; reopens the line if it goes away meanwhile.
 */
export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('run the simulated device on a serial line or pseudo-terminal (the device end)')
    .requiredOption('--serial <path>', 'serial port or pty to speak on, e.g. one end of `socat pty,link=/tmp/a pty,link=/tmp/b`')
    .addOption(new Option('--codec <codec>', 'what to speak').choices(['jsonl', 'kv']).default('jsonl'))
    .option('--interval <ms>', 'period of temperature and humidity reports', positiveInt, 1000)
    .option('--baud-rate <baud>', 'line speed', positiveInt, 115_200)
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .action(async (options: { serial: string; codec: CodecName; interval: number; baudRate: number; logLevel: string }) => {
      const [{ serveSimulatedDevice }, { describeError }, { createLogger }] = await Promise.all([import('@patchbay/driver-serial'), import('@patchbay/core'), import('../run/logger.js')]);
      const logger = createLogger({ level: options.logLevel, format: 'auto' });
      let device: Awaited<ReturnType<typeof serveSimulatedDevice>>;
      try {
        device = await serveSimulatedDevice({ path: options.serial, codec: options.codec, interval: options.interval, baudRate: options.baudRate, logger });
      } catch (error) {
        logger.fatal({ err: error }, `cannot run the simulated device on ${options.serial}: ${describeError(error)}`);
        process.exitCode = 1;
        return;
      }
      if (!device.connected) logger.warn(`${options.serial} is not there yet; the simulated device will open it as soon as it appears`);
      let stopping = false;
      const stop = (signal: NodeJS.Signals): void => {
        if (stopping) return;
        stopping = true;
        logger.info(`${signal}: stopping the simulated device`);
        void device.stop().then(() => {
          logger.info(`simulated device stopped after answering ${device.answered} commands`);
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
        });
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return n;
}

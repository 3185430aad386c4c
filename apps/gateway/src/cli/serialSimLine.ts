import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describeError, ErrorCodes, PatchbayError, type Logger } from '@patchbay/core';
import { serveSimulatedDevice } from '@patchbay/driver-serial';

/** A pseudo-terminal pair with the simulated device speaking on one end. */
export interface SerialSimLine {
  /** The end the gateway's serial driver opens. */
  path: string;
  stop(): Promise<void>;
}

/**
 * For `patchbay run --serial-sim`: makes a socat pseudo-terminal pair under `dataDir` and runs
 * the simulated device on one end, so the embedded default can bridge a device through the
 * real serial driver, framing and codec with no hardware.
 */
export async function startSerialSimLine(options: { dataDir: string; logger: Logger; interval?: number }): Promise<SerialSimLine> {
  const dir = resolve(options.dataDir, 'serial-sim');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const gatewayEnd = join(dir, 'gateway.pty');
  const deviceEnd = join(dir, 'device.pty');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${gatewayEnd}`, `pty,raw,echo=0,link=${deviceEnd}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  // socat says "N PTY is /dev/pts/X" once per end when both exist: wait for the two lines.
  await new Promise<void>((resolveReady, reject) => {
    let ptys = 0;
    socat.once('error', (error) =>
      reject(new PatchbayError(ErrorCodes.START_FAILED, `--serial-sim needs socat (apt-get install socat): ${describeError(error)}`, { cause: error })),
    );
    socat.once('exit', (code) => reject(new PatchbayError(ErrorCodes.START_FAILED, `socat exited (${code}) before the pseudo-terminal pair was ready`)));
    createInterface({ input: socat.stderr }).on('line', (line) => {
      if (/PTY is /.test(line) && ++ptys === 2) resolveReady();
    });
  });
  socat.removeAllListeners('exit');
  const device = await serveSimulatedDevice({ path: deviceEnd, codec: 'jsonl', interval: options.interval ?? 1000, logger: options.logger.child({ component: 'serial-sim' }) });
  options.logger.info({ gatewayEnd, deviceEnd }, `simulated device on a serial line: ${deviceEnd} (the gateway opens ${gatewayEnd})`);
  return {
    path: gatewayEnd,
    async stop() {
      await device.stop();
      socat.kill('SIGTERM');
    },
  };
}

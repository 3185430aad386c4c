/** Debian's mosquitto on a free port with its config and persistence in a temporary directory. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir } from '@patchbay/testing';

export async function startMosquitto(): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = tempDir('patchbay-bench-mosquitto-');
  const port = await freePort();
  const conf = join(dir.path, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type error', 'log_type information', 'max_queued_messages 1000000', 'max_inflight_messages 0', 'set_tcp_nodelay true', ''].join('\n'));
  const child: ChildProcess = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (/ running/.test(log)) resolve();
    });
    child.once('exit', () => reject(new Error(`mosquitto exited: ${log}`)));
  });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async stop() {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
      dir.remove();
    },
  };
}

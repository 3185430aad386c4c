import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createGateway } from '@patchbay/core';
import { FakeHost, patchbayCommand, PtyPair } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import serialDriver from '../src/index.js';

describe('patchbay sim --serial', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  for (const codec of ['jsonl', 'kv'] as const) {
    it(`sim cli - the real binary speaks ${codec} on a pty to the serial driver, and stops on SIGTERM`, async () => {
      const pair = await PtyPair.open();
      cleanups.push(() => pair.close());
      const { command, args } = patchbayCommand();
      const child = spawn(command, [...args, 'sim', '--serial', pair.b, '--codec', codec, '--interval', '100'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      cleanups.push(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });

      const host = new FakeHost();
      const gateway = createGateway({
        devices: [{ id: 'thermo-serial', definition: serialDriver, options: { path: pair.a, codec } }],
        hosts: [{ id: 'h1', definition: host.definition }],
      });
      await gateway.start();
      cleanups.push(() => gateway.stop({ drainTimeoutMs: 500 }));
      // Drifting reports arrive every 100 ms whichever of the two opened its end first.
      await host.waitFor((e) => e.kind === 'state' && e.device === 'thermo-serial' && e.channel === 'humidity', {
        timeoutMs: 15_000,
        what: `humidity from the sim process (output so far: ${output})`,
      });
      expect(await host.submit({ device: 'thermo-serial', channel: 'relay', value: true })).toMatchObject({ ok: true, value: true });

      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
      expect(output).toContain('SIGTERM: stopping the simulated device');
      expect(output).toContain('answering 1 commands');
    });
  }
});

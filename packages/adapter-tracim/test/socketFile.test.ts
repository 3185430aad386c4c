import { statSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { listenUnix } from '../src/transport/socketFile.js';

describe('tracim - socket files', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void> | void)();
  });

  for (const mode of [0o600, 0o660]) {
    it(`tracim - a socket listened on with mode 0${mode.toString(8)} has it from the moment it exists, never 0777 & ~umask first; the umask is put back`, async () => {
      const dir = tempDir('pb-tracim-sock-');
      cleanups.push(() => dir.remove());
      const path = join(dir.path, 'master.sock');
      // The usual umask: without care the file would be born srwxr-xr-x.
      const original = process.umask(0o022);
      cleanups.push(() => void process.umask(original));
      const listening = listenUnix(path, { onConnection: (socket) => socket.destroy(), onError: () => undefined, mode });
      // listen() binds synchronously, before listenUnix first yields: this is the file as it was born, before any chmod could run.
      const born = statSync(path).mode & 0o777;
      const server = await listening;
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      expect(born).toBe(mode);
      expect(statSync(path).mode & 0o777).toBe(mode);
      expect(process.umask(0o022)).toBe(0o022);
    });
  }
});

import { freePort, spawnPatchbay } from '@patchbay/testing';
import { describe, expect, it } from 'vitest';

describe('patchbay reload (12.6)', () => {
  it('cli - reload with no gateway at the address says so in one line, naming the address; exit 1', async () => {
    const port = await freePort();
    const proc = spawnPatchbay(['reload', '--url', `http://127.0.0.1:${port}`]);
    expect(await proc.exited).toBe(1);
    expect(proc.stderr().trim()).toMatch(new RegExp(`^patchbay reload: no gateway answered at http://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\); start one, or give --url$`));
  });
});

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '@patchbay/core';
import { describeError } from '@patchbay/core';

/** The largest `event_id` a client may get: the Go SDK decodes it into an `int`, 32 bits on 386 and armhf. */
export const MAX_EVENT_ID = 2 ** 31 - 1;
/** Ids handed out per write of the counter file: one small synchronous write per 4096 TLMs. */
const BLOCK = 4096;
/** The clock floor's epoch: recent, so that one id a second lasts until 2094 below 2^31. */
const EPOCH_MS = Date.UTC(2026, 0, 1);

/**
 * The `event_id`s of synthesised TLMs (protocols/tracim.md §10, K5): integers below 2^31 that
 * keep increasing across restarts.
 *
 * Why a counter file and not the clock alone: milliseconds since 1970 are about 1.8e12, which
 * a 32-bit Go `int` cannot hold (every TLM then fails to decode on a 32-bit Raspberry Pi), and
 * seconds since a recent epoch leave room for one id a second only; a busy gateway sends more,
 * so after a restart the clock would be behind the ids already sent. The counter is reserved a
 * block ahead in the file (hi/lo), so a crash skips at most one block and never goes back.
 *
 * Why the clock as well: it is the floor when the file is missing or unreadable (first start,
 * a wiped directory), so ids still increase unless a past run averaged more than one a second.
 */
export class EventIds {
  private next: number;
  private reserved: number;
  private warned = false;

  constructor(
    private readonly file: string,
    private readonly logger: Logger,
    now = Date.now(),
  ) {
    const floor = Math.max(1, Math.floor((now - EPOCH_MS) / 1000));
    const stored = this.read();
    this.next = Math.max(floor, stored ?? 0);
    if (this.next > MAX_EVENT_ID) this.next = 1;
    // Nothing is reserved yet: the first take() writes the file.
    this.reserved = this.next;
  }

  /** The next id. */
  take(): number {
    if (this.next > MAX_EVENT_ID) {
      // 2^31 ids (68 years at one a second): start again low rather than send what clients cannot decode.
      this.logger.error(`Tracim TLM event_id reached 2^31 - 1; starting again from 1 (clients that compare ids will see them go back once)`);
      this.next = 1;
      this.reserved = 1;
    }
    if (this.next >= this.reserved) {
      this.reserved = Math.min(this.next + BLOCK, MAX_EVENT_ID + 1);
      this.write(this.reserved);
    }
    return this.next++;
  }

  private read(): number | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.warn(`cannot read it (${describeError(error)})`);
      return undefined;
    }
    const value = /^\d{1,10}\s*$/.test(text) ? Number(text.trim()) : Number.NaN;
    if (!Number.isSafeInteger(value)) {
      this.warn(`it does not hold a number (${JSON.stringify(text.slice(0, 40))})`);
      return undefined;
    }
    return value;
  }

  private write(value: number): void {
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      // Written aside then renamed: a crash mid-write leaves the old value, never half a number.
      const temp = `${this.file}.tmp`;
      writeFileSync(temp, `${value}\n`, { mode: 0o600 });
      renameSync(temp, this.file);
    } catch (error) {
      this.warn(`cannot write it (${describeError(error)})`);
    }
  }

  private warn(what: string): void {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn({ file: this.file }, `Tracim TLM event_id counter ${this.file}: ${what}; ids follow the clock (seconds since 2026), which may repeat after a restart of a busy gateway`);
  }
}

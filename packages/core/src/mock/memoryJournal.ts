import type { CommandEvent, OutboundEvent, StateEvent } from '../events.js';
import type { Journal, JournalHealth, JournalOwner, JournalRecovery } from '../journal.js';

/** What a journal's "disk" holds: records as JSON, as a file journal would read them back. */
interface Records {
  events: { seq: number; json: string; host: string | undefined }[];
  cursors: Map<string, number>;
  /** Latest state per device and channel (events written for one host alone excluded, as on disk). */
  states: Map<string, string>;
  /** Commands owed a reply, by id, until an event replying to them is appended. */
  openCommands: Map<string, string>;
}

/**
 * A {@link Journal} in memory, for the core's own tests of what survives a restart: the
 * recovery contract (cursors, the latest values, commands still owed a reply, replay after
 * the lowest cursor) without files. `reopen()` is the next process: it reads what this one
 * wrote, and this one writes nothing more, as a crashed process would not. It keeps every
 * event (no segments, nothing held back): a test double, not a journal to run on.
 */
export class MemoryJournal implements Journal {
  /** Undefined once reopened: a crashed process writes nothing more. */
  private records: Records | undefined = { events: [], cursors: new Map(), states: new Map(), openCommands: new Map() };
  private closed = false;

  /** The journal of the next run over what this one wrote (after a stop or a crash): this one is cut off. */
  reopen(): MemoryJournal {
    const next = new MemoryJournal();
    next.records = this.disk();
    this.records = undefined;
    return next;
  }

  async open(_owner: JournalOwner): Promise<JournalRecovery> {
    const records = this.disk();
    let lastSeq = 0;
    for (const { seq } of records.events) lastSeq = Math.max(lastSeq, seq);
    // A cursor is never past the last event, as recovery from files has it.
    for (const seq of records.cursors.values()) lastSeq = Math.max(lastSeq, seq);
    let lowest = Infinity;
    for (const seq of records.cursors.values()) lowest = Math.min(lowest, seq);
    const events = [...records.events];
    return {
      lastSeq,
      cursors: new Map(records.cursors),
      states: [...records.states.values()].map((json) => JSON.parse(json) as StateEvent),
      openCommands: [...records.openCommands.values()].map((json) => JSON.parse(json) as CommandEvent),
      replay: (visit) => {
        for (const { seq, json, host } of events) if (seq > lowest) visit(seq, JSON.parse(json) as OutboundEvent, host);
      },
      corrupt: [],
    };
  }

  append(seq: number, event: OutboundEvent): void {
    this.write(seq, event, undefined);
  }

  appendFor(host: string, seq: number, event: OutboundEvent): void {
    this.write(seq, event, host);
  }

  command(command: CommandEvent, written?: (ok: boolean) => void): void {
    const records = this.records;
    if (records !== undefined) records.openCommands.set(command.id, JSON.stringify(command));
    // Written at the end of the tick, as a batching journal would: never inside the caller's call.
    if (written !== undefined) queueMicrotask(() => written(this.records !== undefined && !this.closed));
  }

  ack(host: string, seq: number): void {
    if (this.records !== undefined) this.records.cursors.set(host, seq);
  }

  release(host: string): void {
    const records = this.records;
    if (records === undefined) return;
    records.cursors.delete(host);
    for (const [id, json] of records.openCommands) if ((JSON.parse(json) as CommandEvent).origin === host) records.openCommands.delete(id);
  }

  flush(): void {
    // Every record is "on disk" once written.
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  health(): JournalHealth {
    return { status: 'ok', bytes: 0, segments: 0, writeErrors: 0, notJournaled: 0, corruptRecords: 0 };
  }

  private write(seq: number, event: OutboundEvent, host: string | undefined): void {
    const records = this.records;
    if (records === undefined) return;
    const json = JSON.stringify(event);
    records.events.push({ seq, json, host });
    // A copy written for one host may be older than the store's value: not the retained state.
    if (event.kind === 'state' && host === undefined) records.states.set(`${event.device}\u0000${event.channel}`, json);
    else if (event.kind === 'reply') records.openCommands.delete(event.commandId);
  }

  private disk(): Records {
    if (this.records === undefined) throw new Error('this MemoryJournal was reopened: open the one reopen() returned');
    return this.records;
  }
}

import type { CommandEvent, OutboundEvent, StateEvent } from './events.js';

/** What a journal hands back when the gateway starts again. */
export interface JournalRecovery {
  /** The highest sequence number written: numbering continues after it. */
  lastSeq: number;
  /** Per host: everything up to this sequence number was delivered. Hosts absent here are new. */
  cursors: ReadonlyMap<string, number>;
  /** The latest retained value of every channel. */
  states: readonly StateEvent[];
  /** Commands whose reply was owed to a host's outbox and never recorded. */
  openCommands: readonly CommandEvent[];
  /** Replays, in order, every event after the lowest cursor. */
  replay(visit: (seq: number, event: OutboundEvent) => void): void;
}

/**
 * Durable record of accepted events (a log with per-host cursors, as ARCHITECTURE.md sketches).
 * The core calls these on its hot path: implementations buffer and write in batches.
 */
export interface Journal {
  /**
   * Open (creating if needed) and read back what the last run left. `retained` gives the
   * current state store, which the journal writes at the head of each new segment so that
   * older segments can be dropped.
   */
  open(retained: { states(): Iterable<StateEvent> }): Promise<JournalRecovery>;
  /** An event accepted for routing, with its sequence number. */
  append(seq: number, event: OutboundEvent): void;
  /** A command whose reply a host's outbox is owed (closed by the reply's `commandId`). */
  command(command: CommandEvent): void;
  /** Host `host` has everything up to `seq`. */
  ack(host: string, seq: number): void;
  /**
   * Host `host` is no longer configured: drop its cursor, so the events it never received
   * stop holding segments back (its cursor would otherwise pin them forever).
   */
  release(host: string): void;
  /** Write what is buffered (and sync, per the fsync policy). */
  flush(): void;
  /** Flush and close. */
  close(): Promise<void>;
}

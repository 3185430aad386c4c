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
  /**
   * Replays, in order, every event after the lowest cursor. `host` is set on an event written
   * for that host alone ({@link Journal.appendFor}); the others go wherever the routes send them.
   */
  replay(visit: (seq: number, event: OutboundEvent, host?: string) => void): void;
  /**
   * Records skipped because they failed their checksum, a number or the event schema (empty
   * when none). The records around each were kept. When any was skipped, `replay` visits
   * everything still on disk, whatever the cursors, so that a lost cursor costs duplicates, not losses.
   */
  corrupt: readonly JournalCorruption[];
}

/** One record recovery could not trust, skipped (`JOURNAL_CORRUPT`). */
export interface JournalCorruption {
  /** The segment file's name. */
  segment: string;
  /** Byte offset of the record in that file. */
  offset: number;
  /** What was wrong: `checksum`, `torn` (an incomplete last write), `number`, `utf8`, `schema`, `format`. */
  reason: string;
}

/** What a journal says about itself, for `/healthz` and `/metrics`. */
export interface JournalHealth {
  /** `degraded` while it cannot write: commands that need it are refused (`JOURNAL_UNAVAILABLE`). */
  status: 'ok' | 'degraded';
  /** Why it is degraded: the last write error. */
  reason?: string;
  /** Since when it is degraded (epoch ms). */
  degradedSince?: number;
  /** Bytes of its files on disk, and how many segments. */
  bytes: number;
  segments: number;
  /** Failed writes since open (each one a batch). */
  writeErrors: number;
  /** Records that could not be journaled since open (they were routed from memory). */
  notJournaled: number;
  /** Records skipped as corrupt at the last open. */
  corruptRecords: number;
}

/** What the gateway gives the journal to open it. */
export interface JournalOwner {
  /** The current state store, written at the head of each new segment so older segments can go. */
  states(): Iterable<StateEvent>;
  /**
   * These hosts' cursors hold closed segments back: they have been down, or behind, for a
   * segment or more. The owner writes again what each still waits for ({@link Journal.appendFor})
   * and acknowledges past the rest, so the journal stays the size of what is owed rather than
   * of everything since the host went away. Called on its own turn, never inside a journal call.
   */
  heldBack?(hosts: readonly string[]): void;
  /**
   * Events waiting in this host's outbox (in flight included): what {@link heldBack} would write
   * again for it. A journal asks for a host only when that is well under what it holds back.
   */
  waiting?(host: string): number;
}

/**
 * Durable record of accepted events (a log with per-host cursors, as ARCHITECTURE.md sketches).
 * The core calls these on its hot path: implementations buffer and write in batches.
 */
export interface Journal {
  /** Open (creating if needed) and read back what the last run left. */
  open(owner: JournalOwner): Promise<JournalRecovery>;
  /** An event accepted for routing, with its sequence number. */
  append(seq: number, event: OutboundEvent): void;
  /**
   * An event still owed to one host, written again under a new sequence number so that the
   * segment it was first written in can go (see {@link JournalOwner.heldBack}).
   */
  appendFor(host: string, seq: number, event: OutboundEvent): void;
  /**
   * A command whose reply a host's outbox is owed (closed by the reply's `commandId`).
   * `written` is called once the record is written (`true`, so a crash from then on still
   * answers it) or could not be (`false`: the journal is degraded).
   */
  command(command: CommandEvent, written?: (ok: boolean) => void): void;
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
  /** Its state, cheap enough to ask on every command. */
  health(): JournalHealth;
}

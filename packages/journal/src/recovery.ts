import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CommandEventSchema,
  describeError,
  ErrorCodes,
  EventSchema,
  StateEventSchema,
  type CommandEvent,
  type JournalCorruption,
  type JournalRecovery,
  type Logger,
  type OutboundEvent,
  type StateEvent,
} from '@patchbay/core';
import { parseSegmentName, scanSegment, segmentName, type SegmentFormat } from './records.js';

/** Corrupt records get a warning each up to this many; then one line with the count. */
const MAX_CORRUPT_WARNINGS = 20;

/** The segment files of `dir`, oldest first; those in the previous format are announced. */
export function listSegments(dir: string, logger: Logger): { index: number; format: SegmentFormat }[] {
  const segments: { index: number; format: SegmentFormat }[] = [];
  for (const name of readdirSync(dir)) {
    const segment = parseSegmentName(name);
    if (segment !== undefined) segments.push(segment);
  }
  segments.sort((a, b) => a.index - b.index);
  const old = segments.filter((s) => s.format === 1).length;
  if (old > 0) {
    logger.info(
      { dir, segments: old },
      `journal: reading ${old} segment${old === 1 ? '' : 's'} in the previous format (no checksums); new records are written with a CRC-32 each, and the old segments are deleted once every host has moved past them`,
    );
  }
  return segments;
}

/**
 * Reads `segments` (oldest first) back: cursors, retained state, open commands, and the events
 * to replay. Each record is checked on its own; corrupt ones are skipped, reported and logged.
 */
export function readSegments({ dir, segments, logger }: { dir: string; segments: readonly { index: number; format: SegmentFormat }[]; logger: Logger }): JournalRecovery {
  let lastSeq = 0;
  const cursors = new Map<string, number>();
  const states = new Map<string, StateEvent>();
  const openCommands = new Map<string, CommandEvent>();
  const corrupt: JournalCorruption[] = [];
  const report = (segment: string, { offset, reason, detail }: { offset: number; reason: string; detail: string }): void => {
    corrupt.push({ segment, offset, reason });
    if (corrupt.length <= MAX_CORRUPT_WARNINGS) {
      logger.warn({ code: ErrorCodes.JOURNAL_CORRUPT, segment, offset, reason }, `journal: corrupt record skipped in ${segment} at byte ${offset} (${detail})`);
    }
  };
  // First pass: everything but the events themselves, so replay can skip what every host has.
  const eventLines: { seq: number; json: string; host: string | undefined }[] = [];
  for (const segment of segments) {
    const name = segmentName(segment.index, segment.format);
    const bytes = readFileSync(join(dir, name));
    scanSegment(bytes, segment.format, {
      visit: ({ type, seq, body, offset }) => {
        const problem = apply({ type, seq, body }, { cursors, states, openCommands, eventLines });
        if (problem === undefined) {
          if (type === 'n' || type === 'e' || type === 't') lastSeq = Math.max(lastSeq, seq);
        } else report(name, { offset, ...problem });
      },
      bad: (line) => {
        // A write cut short by a crash was never acknowledged to anyone: not corruption.
        if (line.reason === 'torn') logger.warn({ segment: name, offset: line.offset }, `journal: torn last record skipped in ${name} at byte ${line.offset} (${line.detail})`);
        else report(name, line);
      },
    });
  }
  if (corrupt.length > MAX_CORRUPT_WARNINGS) {
    logger.warn({ code: ErrorCodes.JOURNAL_CORRUPT, corrupt: corrupt.length }, `journal: ${corrupt.length - MAX_CORRUPT_WARNINGS} more corrupt records skipped`);
  }
  // A cursor is never past the last event: one that is cannot be trusted to mean anything.
  for (const seq of cursors.values()) lastSeq = Math.max(lastSeq, seq);
  let lowest = Infinity;
  for (const seq of cursors.values()) lowest = Math.min(lowest, seq);
  // A skipped record may have been a cursor: replay everything, and let each host's own cursor decide.
  if (corrupt.length > 0) lowest = -1;
  return {
    lastSeq,
    cursors,
    states: [...states.values()],
    openCommands: [...openCommands.values()],
    replay: (visit) => {
      for (const { seq, json, host } of eventLines) if (seq > lowest) visit(seq, JSON.parse(json) as OutboundEvent, host);
    },
    corrupt,
  };
}

/** Applies one record to what recovery builds, or says what is wrong with it. */
function apply(
  record: { type: string; seq: number; body: string },
  into: {
    cursors: Map<string, number>;
    states: Map<string, StateEvent>;
    openCommands: Map<string, CommandEvent>;
    eventLines: { seq: number; json: string; host: string | undefined }[];
  },
): { reason: string; detail: string } | undefined {
  const { type, seq, body } = record;
  const { cursors, states, openCommands, eventLines } = into;
  switch (type) {
    case 'n':
      return body === '' ? undefined : { reason: 'format', detail: 'a head record with a body' };
    case 'c':
      if (body === '') return { reason: 'format', detail: 'a cursor without its host' };
      cursors.set(body, seq);
      return undefined;
    case 'r':
      if (body === '') return { reason: 'format', detail: 'a release without its host' };
      cursors.delete(body);
      for (const [id, command] of openCommands) if (command.origin === body) openCommands.delete(id);
      return undefined;
    case 'e':
    case 't': {
      let json = body;
      let host: string | undefined;
      if (type === 't') {
        const tab = body.indexOf('\t');
        if (tab <= 0) return { reason: 'format', detail: 'an event for one host without its host' };
        host = body.slice(0, tab);
        json = body.slice(tab + 1);
      }
      const event = parseEvent(json);
      if (typeof event === 'string') return { reason: 'schema', detail: event };
      if (event.kind === 'command') return { reason: 'schema', detail: 'a command where an event belongs' };
      // Not applied to the retained states when written for one host: its copy may be older than the store's value.
      if (event.kind === 'state' && host === undefined) states.set(event.device + '\u0000' + event.channel, event);
      else if (event.kind === 'reply') openCommands.delete(event.commandId);
      eventLines.push({ seq, json, host });
      return undefined;
    }
    case 's': {
      const state = parseWith<StateEvent>(StateEventSchema, body);
      if (typeof state === 'string') return { reason: 'schema', detail: state };
      states.set(state.device + '\u0000' + state.channel, state);
      return undefined;
    }
    case 'k': {
      const command = parseWith<CommandEvent>(CommandEventSchema, body);
      if (typeof command === 'string') return { reason: 'schema', detail: command };
      openCommands.set(command.id, command);
      return undefined;
    }
    default:
      return { reason: 'format', detail: `unknown record type ${JSON.stringify(type.slice(0, 8))}` };
  }
}


/** The part of a zod schema recovery uses. */
interface Checker {
  safeParse(value: unknown): { success: boolean; error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/** The JSON parsed (as written, not as the schema would rebuild it) and checked against `schema`, or what is wrong with it. */
function parseWith<T>(schema: Checker, json: string): T | string {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    return `not JSON: ${describeError(error)}`;
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return value as T;
  const issue = parsed.error?.issues[0];
  return `not a valid event: ${issue ? `${issue.path.join('.') || 'event'}: ${issue.message}` : 'schema mismatch'}`;
}

function parseEvent(json: string): OutboundEvent | CommandEvent | string {
  return parseWith<OutboundEvent | CommandEvent>(EventSchema, json);
}

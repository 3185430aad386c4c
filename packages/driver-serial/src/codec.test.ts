import { describe, expect, it } from 'vitest';
import { jsonlCodec, kvCodec, parseKvValue } from './codec.js';

const decode = (codec: typeof jsonlCodec, text: string | Buffer) => codec.decode(typeof text === 'string' ? Buffer.from(text) : text);

describe('jsonl codec', () => {
  it('jsonl - reads a state report', () => {
    expect(decode(jsonlCodec, '{"channel":"temperature","value":21.5}')).toEqual({ type: 'state', channel: 'temperature', value: 21.5 });
  });

  it('jsonl - reads ok and failed replies, numeric ids as strings', () => {
    expect(decode(jsonlCodec, '{"id":"c1","ok":true,"value":1}')).toEqual({ type: 'reply', id: 'c1', ok: true, value: 1 });
    expect(decode(jsonlCodec, '{"id":7,"ok":true}')).toEqual({ type: 'reply', id: '7', ok: true });
    expect(decode(jsonlCodec, '{"id":"c2","ok":false,"error":"busy"}')).toEqual({ type: 'reply', id: 'c2', ok: false, error: 'busy' });
  });

  it('jsonl - invalid JSON is invalid, with an excerpt', () => {
    const verdict = decode(jsonlCodec, '{"channel":');
    expect(verdict).toMatchObject({ type: 'bad', kind: 'invalid' });
    expect(verdict.type === 'bad' && verdict.detail).toContain('{\\"channel\\":');
  });

  it('jsonl - wrong shapes are invalid and say what is missing', () => {
    expect(decode(jsonlCodec, '[1,2]')).toMatchObject({ type: 'bad', kind: 'invalid', detail: expect.stringContaining('an array') });
    expect(decode(jsonlCodec, '42')).toMatchObject({ type: 'bad', kind: 'invalid', detail: expect.stringContaining('number') });
    expect(decode(jsonlCodec, '{"channel":"t"}')).toMatchObject({ type: 'bad', kind: 'invalid', detail: expect.stringContaining('without "value"') });
    expect(decode(jsonlCodec, '{"channel":5,"value":1}')).toMatchObject({ type: 'bad', kind: 'invalid' });
    expect(decode(jsonlCodec, '{"ok":true}')).toMatchObject({ type: 'bad', kind: 'invalid', detail: expect.stringContaining('without a string "id"') });
    expect(decode(jsonlCodec, '{"id":"c1","ok":"yes"}')).toMatchObject({ type: 'bad', kind: 'invalid' });
  });

  it('jsonl - bytes that are not text are garbage', () => {
    expect(decode(jsonlCodec, Buffer.from([0xff, 0xfe, 0x00, 0x41]))).toMatchObject({ type: 'bad', kind: 'garbage', detail: expect.stringContaining('not UTF-8') });
    expect(decode(jsonlCodec, Buffer.from('ab\u0001cd'))).toMatchObject({ type: 'bad', kind: 'garbage', detail: expect.stringContaining('control characters') });
  });

  it('jsonl - encodes channel and action commands', () => {
    expect(jsonlCodec.encode({ id: 'c1', channel: 'relay', value: true }).toString()).toBe('{"id":"c1","channel":"relay","value":true}');
    expect(jsonlCodec.encode({ id: 'c2', action: 'refresh' }).toString()).toBe('{"id":"c2","action":"refresh"}');
    expect(jsonlCodec.encode({ id: 'c3', action: 'blink', args: [3, 'fast'] }).toString()).toBe('{"id":"c3","action":"blink","args":[3,"fast"]}');
  });
});

describe('kv codec', () => {
  it('kv - reads states with typed values', () => {
    expect(decode(kvCodec, 'temperature=21.5')).toEqual({ type: 'state', channel: 'temperature', value: 21.5 });
    expect(decode(kvCodec, 'relay=true\r')).toEqual({ type: 'state', channel: 'relay', value: true });
    expect(decode(kvCodec, 'mode=eco=2')).toEqual({ type: 'state', channel: 'mode', value: 'eco=2' });
  });

  it('kv - reads ok, ok=value and error=message as replies without ids', () => {
    expect(decode(kvCodec, 'ok')).toEqual({ type: 'reply', id: undefined, ok: true });
    expect(decode(kvCodec, 'ok=1')).toEqual({ type: 'reply', id: undefined, ok: true, value: 1 });
    expect(decode(kvCodec, 'error=relay stuck')).toEqual({ type: 'reply', id: undefined, ok: false, error: 'relay stuck' });
  });

  it('kv - lines without key=value are invalid', () => {
    expect(decode(kvCodec, 'hello')).toMatchObject({ type: 'bad', kind: 'invalid', detail: expect.stringContaining('expected key=value') });
    expect(decode(kvCodec, '=5')).toMatchObject({ type: 'bad', kind: 'invalid' });
    expect(decode(kvCodec, 'two words=5')).toMatchObject({ type: 'bad', kind: 'invalid', detail: expect.stringContaining('not a channel name') });
  });

  it('kv - encodes booleans as 1/0 and actions as their bare name; refuses action arguments', () => {
    expect(kvCodec.encode({ id: 'c1', channel: 'relay', value: true }).toString()).toBe('relay=1');
    expect(kvCodec.encode({ id: 'c1', channel: 'setpoint', value: 19.5 }).toString()).toBe('setpoint=19.5');
    expect(kvCodec.encode({ id: 'c2', action: 'refresh' }).toString()).toBe('refresh');
    expect(() => kvCodec.encode({ id: 'c3', action: 'blink', args: [1] })).toThrow(/cannot carry arguments/);
  });

  it('kv - value parsing keeps text that only looks like a number', () => {
    expect(parseKvValue('-3e2')).toBe(-300);
    expect(parseKvValue('.5')).toBe(0.5);
    expect(parseKvValue('0x10')).toBe('0x10');
    expect(parseKvValue('1.2.3')).toBe('1.2.3');
    expect(parseKvValue('')).toBe('');
  });
});

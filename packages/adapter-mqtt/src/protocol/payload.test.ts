import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeEvent, encodeReply, encodeState } from './payload.js';

const bytes = (s: string) => Buffer.from(s, 'utf8');

describe('payloads', () => {
  it('payload - states are plain: numbers, ON/OFF or true/false, strings, JSON for json channels', () => {
    expect(encodeState(21.5, 'ON/OFF')).toBe('21.5');
    expect(encodeState(true, 'ON/OFF')).toBe('ON');
    expect(encodeState(false, 'ON/OFF')).toBe('OFF');
    expect(encodeState(true, 'true/false')).toBe('true');
    expect(encodeState('eco', 'ON/OFF')).toBe('eco');
    expect(encodeState({ a: 1 }, 'ON/OFF')).toBe('{"a":1}');
    expect(encodeState(null, 'ON/OFF')).toBe('null');
    expect(encodeState('eco', 'ON/OFF', { kind: 'json', writable: false })).toBe('"eco"');
  });

  it('payload - events carry an event_type', () => {
    expect(JSON.parse(encodeEvent('single'))).toEqual({ event_type: 'single' });
    expect(JSON.parse(encodeEvent(undefined))).toEqual({ event_type: 'press' });
    expect(JSON.parse(encodeEvent(3))).toEqual({ event_type: 'press', value: 3 });
  });

  it('payload - replies are {ok, value} or {ok:false, error, code}', () => {
    expect(JSON.parse(encodeReply({ ok: true, value: true }))).toEqual({ ok: true, value: true });
    expect(JSON.parse(encodeReply({ ok: true }))).toEqual({ ok: true, value: null });
    expect(JSON.parse(encodeReply({ ok: false, error: 'no', code: 'PB211_READ_ONLY' }))).toEqual({ ok: false, error: 'no', code: 'PB211_READ_ONLY' });
    expect(JSON.parse(encodeReply({ ok: false }))).toMatchObject({ ok: false, code: 'PB207_COMMAND_FAILED' });
  });

  it('payload - /set payloads: boolean words, JSON, else text; text and enum channels take the text', () => {
    const o = { style: 'ON/OFF' as const, maxBytes: 1024 };
    expect(decodeCommand(bytes('ON'), o)).toEqual({ ok: true, value: true });
    expect(decodeCommand(bytes('off'), o)).toEqual({ ok: true, value: false });
    expect(decodeCommand(bytes('21.5'), o)).toEqual({ ok: true, value: 21.5 });
    expect(decodeCommand(bytes('true'), o)).toEqual({ ok: true, value: true });
    expect(decodeCommand(bytes('{"a":[1]}'), o)).toEqual({ ok: true, value: { a: [1] } });
    expect(decodeCommand(bytes('eco'), o)).toEqual({ ok: true, value: 'eco' });
    expect(decodeCommand(bytes('12'), { ...o, channel: { kind: 'text', writable: true } })).toEqual({ ok: true, value: '12' });
    expect(decodeCommand(bytes('ON'), { style: 'true/false', maxBytes: 1024 })).toEqual({ ok: true, value: 'ON' });
  });

  it('payload - refuses oversized and invalid UTF-8 payloads with PB206', () => {
    const o = { style: 'ON/OFF' as const, maxBytes: 8 };
    expect(decodeCommand(bytes('123456789'), o)).toMatchObject({ ok: false, code: 'PB206_COMMAND_INVALID', error: expect.stringMatching(/9 bytes.*limit of 8/) });
    expect(decodeCommand(Buffer.from([0x4f, 0xff, 0xfe]), o)).toMatchObject({ ok: false, code: 'PB206_COMMAND_INVALID', error: expect.stringMatching(/UTF-8/) });
  });
});

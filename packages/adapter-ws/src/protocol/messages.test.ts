import { describe, expect, it } from 'vitest';
import { parseClientMessage } from './messages.js';

describe('ws protocol - client messages', () => {
  it('ws protocol - a command names exactly one of channel or action', () => {
    expect(parseClientMessage('{"type":"command","id":1,"device":"d","channel":"c","action":"a"}')).toMatchObject({ ok: false, id: 1, error: expect.stringMatching(/exactly one of "channel" or "action"/) });
    expect(parseClientMessage('{"type":"command","id":1,"device":"d"}')).toMatchObject({ ok: false });
    expect(parseClientMessage('{"type":"command","id":"a","device":"d","action":"refresh","args":[1]}')).toMatchObject({ ok: true, command: { action: 'refresh', args: [1] } });
  });

  it('ws protocol - refuses messages nested deeper than 64 levels, keeping the id; 64 levels pass', () => {
    const command = (levels: number) => `{"type":"command","id":7,"device":"d","channel":"c","value":${'['.repeat(levels)}${']'.repeat(levels)}}`;
    // The command object is the first level.
    expect(parseClientMessage(command(63))).toMatchObject({ ok: true });
    expect(parseClientMessage(command(64))).toMatchObject({ ok: false, id: 7, error: expect.stringMatching(/^nested deeper than 64 levels/) });
    expect(parseClientMessage(command(100_000))).toMatchObject({ ok: false, id: 7, error: expect.stringMatching(/^nested deeper than 64 levels/) });
  });

  it('ws protocol - refuses unknown fields and ids that are neither string nor number', () => {
    expect(parseClientMessage('{"type":"command","id":1,"device":"d","channel":"c","extra":1}')).toMatchObject({ ok: false, error: expect.stringMatching(/extra/) });
    expect(parseClientMessage('{"type":"command","id":{},"device":"d","channel":"c"}')).toMatchObject({ ok: false, error: expect.stringMatching(/id/) });
  });
});

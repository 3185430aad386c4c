import { describe, expect, it } from 'vitest';
import { channelIdProblem, deviceIdProblem, topicLevelProblem, Topics } from './topics.js';

describe('topics', () => {
  const topics = new Topics('patchbay');

  it('topics - builds the layout under the base', () => {
    expect(topics.bridgeState).toBe('patchbay/bridge/state');
    expect(topics.state('thermo1', 'temperature')).toBe('patchbay/thermo1/temperature');
    expect(topics.availability('thermo1')).toBe('patchbay/thermo1/availability');
    expect(topics.event('btn', 'press')).toBe('patchbay/btn/press/event');
    expect(topics.command('thermo1', 'relay')).toBe('patchbay/thermo1/relay/set');
    expect(topics.result('thermo1', 'relay')).toBe('patchbay/thermo1/relay/set/result');
    expect(topics.commandFilter).toBe('patchbay/+/+/set');
  });

  it('topics - parses only /set topics, under a multi-level base too', () => {
    expect(topics.parseCommand('patchbay/thermo1/relay/set')).toEqual({ device: 'thermo1', channel: 'relay' });
    expect(topics.parseCommand('patchbay/thermo1/relay')).toBeUndefined();
    expect(topics.parseCommand('patchbay/thermo1/relay/set/result')).toBeUndefined();
    expect(topics.parseCommand('patchbay/thermo1/relay/event')).toBeUndefined();
    expect(topics.parseCommand('other/thermo1/relay/set')).toBeUndefined();
    const deep = new Topics('home/gw');
    expect(deep.parseCommand('home/gw/d/c/set')).toEqual({ device: 'd', channel: 'c' });
    expect(deep.parseCommand('home/d/c/set')).toBeUndefined();
  });

  it('topics - refuses levels with wildcards, separators, NUL, empty or too long, naming why', () => {
    expect(topicLevelProblem('ok-id_1')).toBeUndefined();
    expect(topicLevelProblem('')).toMatch(/empty/);
    expect(topicLevelProblem('a+b')).toMatch(/wildcard/);
    expect(topicLevelProblem('a#')).toMatch(/wildcard/);
    expect(topicLevelProblem('a/b')).toMatch(/separator/);
    expect(topicLevelProblem('a\u0000')).toMatch(/NUL/);
    expect(topicLevelProblem('x'.repeat(129))).toMatch(/longer than 128/);
    expect(topicLevelProblem('é'.repeat(64))).toBeUndefined();
    expect(topicLevelProblem('é'.repeat(65))).toMatch(/longer/);
  });

  it('topics - reserves the levels the layout uses', () => {
    expect(deviceIdProblem('bridge')).toMatch(/reserved/);
    expect(channelIdProblem('availability')).toMatch(/reserved/);
    expect(deviceIdProblem('availability')).toBeUndefined();
  });

  it('topics - a response topic under the base or with a wildcard is forbidden (no loops, no spoofed state)', () => {
    expect(topics.isForbiddenResponseTopic('patchbay/thermo1/relay/set')).toBe(true);
    expect(topics.isForbiddenResponseTopic('patchbay/thermo1/relay')).toBe(true);
    expect(topics.isForbiddenResponseTopic('ha/replies/+')).toBe(true);
    expect(topics.isForbiddenResponseTopic('$SYS/x')).toBe(true);
    expect(topics.isForbiddenResponseTopic('')).toBe(true);
    expect(topics.isForbiddenResponseTopic('patchbayx/reply')).toBe(false);
    expect(topics.isForbiddenResponseTopic('homeassistant/replies/abc')).toBe(false);
  });
});

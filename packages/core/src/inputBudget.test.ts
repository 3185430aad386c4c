import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAdapter, type HostContext } from './definitions.js';
import { createGateway } from './gateway.js';
import { defaultInputBudgetBytes, InputBudget } from './inputBudget.js';

describe('input budget', () => {
  it('input budget - a take that would pass the limit draws nothing and is counted; give makes room again', () => {
    const budget = new InputBudget(100);
    expect(budget.take(60)).toBe(true);
    expect(budget.take(41)).toBe(false);
    expect(budget.usedBytes).toBe(60);
    expect(budget.take(40)).toBe(true);
    expect(budget.usedBytes).toBe(100);
    budget.give(100);
    expect(budget.take(1)).toBe(true);
    expect({ used: budget.usedBytes, peak: budget.peakBytes, refused: budget.refused }).toEqual({ used: 1, peak: 100, refused: 1 });
    expect(budget.describe()).toContain('gateway.maxBufferedBytes 100');
  });

  it('input budget - every host of a gateway draws on one budget, shown in its health', async () => {
    const contexts: HostContext[] = [];
    const listener = defineAdapter({
      type: 'test-listener',
      config: z.object({}),
      create: (_c, ctx) => {
        contexts.push(ctx);
        return { start: () => undefined, stop: () => undefined, deliver: () => undefined };
      },
    });
    const gateway = createGateway({
      devices: [],
      hosts: [
        { id: 'a', definition: listener },
        { id: 'b', definition: listener },
      ],
      maxBufferedBytes: 1024 * 1024,
    });
    await gateway.start();
    const [a, b] = contexts as [HostContext, HostContext];
    expect(a.inputBudget).toBe(b.inputBudget);
    expect(a.inputBudget.take(768 * 1024)).toBe(true);
    // Within any budget of b's own, but not within what a left of the gateway's.
    expect(b.inputBudget.take(512 * 1024)).toBe(false);
    expect(gateway.health().input).toEqual({ bufferedBytes: 768 * 1024, peakBytes: 768 * 1024, limitBytes: 1024 * 1024, refused: 1 });
    await gateway.stop();
    const fresh = createGateway({ devices: [], hosts: [] });
    expect(fresh.health().input.limitBytes).toBe(defaultInputBudgetBytes);
  });
});

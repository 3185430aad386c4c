import { describe, expect, it } from 'vitest';
import { ChangeTree, singleChangeJson } from './changeTree.js';

describe('jeedom - change aggregation (§4.5)', () => {
  it('jeedom - §10.33 nested keys merge into one object', () => {
    const tree = new ChangeTree();
    tree.add('devices::abc::temperature', 21.5);
    tree.add('devices::abc::humidity', 40);
    tree.add('devices::def', { id: 'def', state: 1 });
    expect(tree.toJson()).toBe('{"devices": {"abc": {"temperature": 21.5, "humidity": 40}, "def": {"id": "def", "state": 1}}}');
  });

  it('jeedom - §10.34 the same plain key twice keeps only the last value', () => {
    const tree = new ChangeTree();
    tree.add('heartbeat', 1);
    tree.add('heartbeat', 2);
    expect(tree.toValue()).toEqual({ heartbeat: 2 });
  });

  it('jeedom - a plain key replaces its entry outright, a path merges recursively, arrays are replaced', () => {
    const tree = new ChangeTree();
    tree.add('devices::abc::temperature', 21.5);
    tree.add('devices::abc', { humidity: 40, list: [1, 2] });
    tree.add('devices::abc::list', [3]);
    expect(tree.toValue()).toEqual({ devices: { abc: { temperature: 21.5, humidity: 40, list: [3] } } });
    tree.add('devices', { other: 1 });
    expect(tree.toValue()).toEqual({ devices: { other: 1 } });
  });

  it('jeedom - path segments may contain "::" themselves', () => {
    const tree = new ChangeTree();
    tree.addPath(['devices', 'a::b', 'x'], 1);
    expect(tree.toValue()).toEqual({ devices: { 'a::b': { x: 1 } } });
  });

  it('jeedom - take() empties the tree; entries() splits it per top-level key', () => {
    const tree = new ChangeTree();
    tree.add('a::b', 1);
    tree.add('c', 2);
    expect(tree.entries().map((t) => t.toJson())).toEqual(['{"a": {"b": 1}}', '{"c": 2}']);
    const taken = tree.take();
    expect(tree.empty).toBe(true);
    expect(taken.toValue()).toEqual({ a: { b: 1 }, c: 2 });
  });

  it('jeedom - a single change serialises exactly as a one-entry tree', () => {
    const cases: [string | string[], Parameters<ChangeTree['add']>[1]][] = [
      ['devices::abc::temperature', 21.5],
      [['replies', '17'], { ok: true, value: 'é' }],
      ['heartbeat', 2],
    ];
    for (const [key, value] of cases) {
      const tree = new ChangeTree();
      if (typeof key === 'string') tree.add(key, value);
      else tree.addPath(key, value);
      expect(singleChangeJson(key, value)).toBe(tree.toJson());
    }
  });

  it('jeedom - (15.6) `append` keeps every momentary event in order, `replace` leaves nothing of the older value, and a caller\'s array is never grown', () => {
    const tree = new ChangeTree();
    const mine = [{ device: 'b', value: 0 }];
    tree.addPath(['events'], mine, 'merge');
    tree.addPath(['events'], { device: 'b', value: 1 }, 'append');
    tree.addPath(['events'], { device: 'b', value: 1 }, 'append');
    tree.addPath(['descriptions', 'd'], { name: 'old', firmware: '1' }, 'replace');
    tree.addPath(['descriptions', 'd'], { name: 'new' }, 'replace');
    expect(tree.toValue()).toEqual({ events: [{ device: 'b', value: 1 }, { device: 'b', value: 1 }], descriptions: { d: { name: 'new' } } });
    expect(mine).toHaveLength(1);
    const taken = tree.take();
    tree.addPath(['events'], { device: 'b', value: 2 }, 'append');
    expect(taken.toValue()).toEqual({ events: [{ device: 'b', value: 1 }, { device: 'b', value: 1 }], descriptions: { d: { name: 'new' } } });
    expect(singleChangeJson(['events'], { device: 'b', value: 2 }, 'append')).toBe(tree.toJson());
    expect(tree.toJson()).toBe('{"events": [{"device": "b", "value": 2}]}');
  });
});

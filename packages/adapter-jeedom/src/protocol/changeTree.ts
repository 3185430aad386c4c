import type { JsonValue } from '@patchbay/core';
import { pyJson, pyString, type PyJsonValue } from './pyJson.js';

/** A node of pending changes: objects are insertion-ordered Maps so they serialise in order. */
export type ChangeNode = string | number | boolean | null | readonly JsonValue[] | ChangeMap;
/** An object node. */
export type ChangeMap = Map<string, ChangeNode>;

/** The separator of nested keys (`devices::abc::temperature`), as in the reference `add_changes`. */
export const PATH_SEPARATOR = '::';

/**
 * How a change joins what is pending at its path: `merge` (the reference's add_changes),
 * `replace` (the value is whole: a device's description or availability, no stale keys of an
 * older one left in it), `append` (a list of momentary events: every one kept, in order).
 */
export type ChangeMode = 'merge' | 'replace' | 'append';

/**
 * Pending changes as the reference's `jeedom_com.add_changes` aggregates them
 * (protocols/jeedom.md §4.5): a `::` key is a path into nested objects, merged recursively
 * when both sides are objects, otherwise the new value replaces the old (arrays included);
 * a plain key replaces its top-level entry outright.
 */
export class ChangeTree {
  private root: ChangeMap = new Map();
  /** Lists {@link addPath} made for `append`: only these are grown in place (a caller's array never is). */
  private owned = new WeakSet<readonly JsonValue[]>();

  /** True when nothing is pending. */
  get empty(): boolean {
    return this.root.size === 0;
  }

  /** `add("devices::abc::temperature", 21.5)`: the reference's add-change primitive. */
  add(key: string, value: JsonValue): void {
    if (!key.includes(PATH_SEPARATOR)) {
      // §4.5: a plain key replaces the top-level entry without merging.
      this.root.set(key, toNode(value));
      return;
    }
    this.addPath(key.split(PATH_SEPARATOR), value);
  }

  /**
   * Add at a path given as segments: what the adapter uses, so device and channel names
   * that contain `::` themselves stay one segment.
   */
  addPath(path: readonly string[], value: JsonValue, mode: ChangeMode = 'merge'): void {
    if (path.length === 0) return;
    let node = this.root;
    for (let i = 0; i < path.length - 1; i++) {
      const key = path[i] as string;
      const next = node.get(key);
      if (next instanceof Map) {
        node = next;
      } else {
        const created: ChangeMap = new Map();
        node.set(key, created);
        node = created;
      }
    }
    const last = path[path.length - 1] as string;
    if (mode === 'append') {
      const list = node.get(last);
      if (Array.isArray(list) && this.owned.has(list)) (list as JsonValue[]).push(value);
      else {
        const created = [value];
        this.owned.add(created);
        node.set(last, created);
      }
      return;
    }
    node.set(last, mode === 'replace' ? toNode(value) : mergeNode(node.get(last), toNode(value)));
  }

  /** Take everything pending, leaving the tree empty. */
  take(): ChangeTree {
    const taken = new ChangeTree();
    taken.root = this.root;
    this.root = new Map();
    // The taken tree is posted as it is: nothing may grow its lists any more.
    this.owned = new WeakSet();
    return taken;
  }

  /** One top-level object per entry: what immediate mode posts, one request each (§4.5). */
  entries(): ChangeTree[] {
    return [...this.root].map(([key, value]) => {
      const single = new ChangeTree();
      single.root.set(key, value);
      return single;
    });
  }

  /** The pending object, as Python's `json.dumps` would write it. */
  toJson(): string {
    return pyJson(this.root as PyJsonValue);
  }

  /** A plain JSON value (tests, logs). */
  toValue(): JsonValue {
    return fromNode(this.root);
  }
}

/**
 * The JSON of one change on its own (`{"devices": {"abc": {"t": 21.5}}}`), as immediate mode
 * posts it: the same bytes as a one-entry {@link ChangeTree}, without building one.
 */
export function singleChangeJson(key: string | readonly string[], value: JsonValue, mode: ChangeMode = 'merge'): string {
  const path = typeof key === 'string' ? key.split(PATH_SEPARATOR) : key;
  let out = '';
  for (const segment of path) out += '{' + pyString(segment) + ': ';
  // An appended change on its own is a list of one.
  out += mode === 'append' ? '[' + pyJson(value) + ']' : pyJson(value);
  for (let i = 0; i < path.length; i++) out += '}';
  return out;
}

function toNode(value: JsonValue): ChangeNode {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value as ChangeNode;
  const map: ChangeMap = new Map();
  for (const [key, item] of Object.entries(value)) map.set(key, toNode(item));
  return map;
}

function fromNode(node: ChangeNode): JsonValue {
  if (!(node instanceof Map)) return node as JsonValue;
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of node) out[key] = fromNode(value);
  return out;
}

/** Recursive when both are objects, else the newer value wins. */
function mergeNode(older: ChangeNode | undefined, newer: ChangeNode): ChangeNode {
  if (!(older instanceof Map) || !(newer instanceof Map)) return newer;
  for (const [key, value] of newer) older.set(key, mergeNode(older.get(key), value));
  return older;
}

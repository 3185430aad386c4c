import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { describeError } from '@patchbay/core';
import type * as YamlLibrary from 'yaml';
import type { Document } from 'yaml';
import { NOT_PLAIN, parsePlainBlockYaml } from './blockYaml.js';

/** Reading or parsing the config file failed; `cause` is the underlying error. */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
  constructor(
    message: string,
    readonly context: { path: string; line?: number; column?: number },
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

let yamlLibrary: typeof YamlLibrary | undefined;
/** The yaml library, loaded on the first text the block reader leaves to it: most configs never need it, and it is a tenth of a bare launch's module loading. */
const yaml = (): typeof YamlLibrary => (yamlLibrary ??= createRequire(import.meta.url)('yaml') as typeof YamlLibrary);

/** `line L, column C` (1-based) of a character offset, as YAML's errors give it. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}

/** Parses config text: JSON for a `.json` path, YAML otherwise (which reads JSON too). */
export function parseConfigText(text: string, path: string): unknown {
  const json = extname(path).toLowerCase() === '.json';
  try {
    return json ? JSON.parse(text) : parseYamlText(text, path);
  } catch (error) {
    if (error instanceof ConfigFileError) throw error;
    if (!json) throw new ConfigFileError(`${path} is not valid YAML: ${describeError(error)}`, { path }, { cause: error });
    // Node 20's JSON.parse names a character offset only (or none at the end of the input).
    const at = /at position (\d+)/.exec(describeError(error));
    const { line, column } = lineAndColumn(text, at ? Number(at[1]) : text.length);
    const reason = describeError(error).replace(/ in JSON at position \d+.*$/, '');
    throw new ConfigFileError(`${path} is not valid JSON: ${reason} at line ${line}, column ${column}`, { path, line, column }, { cause: error });
  }
}

/**
 * YAML as `yaml.parse` reads it, with the duplicate-key check done here: the library's compares
 * each key with every earlier key of its map, quadratic in a map's size (13 s of a 10,000-device
 * start-up was that check on the Domogik host's 30,000-key `sensors`). One Set per map is linear.
 */
function parseYamlText(text: string, path: string): unknown {
  const plain = parsePlainBlockYaml(text);
  if (plain !== NOT_PLAIN) return plain;
  const doc = yaml().parseDocument(text, { prettyErrors: true, uniqueKeys: false });
  for (const warning of doc.warnings) process.emitWarning(warning);
  if (doc.errors.length > 0) throw doc.errors[0];
  const duplicate = firstDuplicateKey(doc);
  if (duplicate) {
    const { key, offset, firstOffset } = duplicate;
    const { line, column } = lineAndColumn(text, offset);
    const first = lineAndColumn(text, firstOffset);
    throw new ConfigFileError(`${path} is not valid YAML: duplicate key ${JSON.stringify(key)} at line ${line}, column ${column} (first at line ${first.line}, column ${first.column}): map keys must be unique`, { path, line, column }, { cause: undefined });
  }
  return doc.toJS();
}

/** The first key that repeats one of its map's earlier keys (scalar keys compared by value, as the library does). */
function firstDuplicateKey(doc: Document): { key: unknown; offset: number; firstOffset: number } | undefined {
  const { isScalar, visit } = yaml();
  let found: { key: unknown; offset: number; firstOffset: number } | undefined;
  visit(doc, {
    Map(_, map) {
      const seen = new Map<unknown, number>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        const offset = key.range?.[0] ?? 0;
        const firstOffset = seen.get(key.value);
        if (firstOffset !== undefined) {
          found = { key: key.value, offset, firstOffset };
          return visit.BREAK;
        }
        seen.set(key.value, offset);
      }
      return undefined;
    },
  });
  return found;
}

/** Reads and parses a YAML or JSON config file. */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigFileError(`cannot read config file ${path}: ${describeError(error)}`, { path }, { cause: error });
  }
  return parseConfigText(text, path);
}

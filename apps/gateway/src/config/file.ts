import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { describeError } from '@patchbay/core';
import { parse as parseYaml } from 'yaml';

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
    return json ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (error) {
    if (!json) throw new ConfigFileError(`${path} is not valid YAML: ${describeError(error)}`, { path }, { cause: error });
    // Node 20's JSON.parse names a character offset only (or none at the end of the input).
    const at = /at position (\d+)/.exec(describeError(error));
    const { line, column } = lineAndColumn(text, at ? Number(at[1]) : text.length);
    const reason = describeError(error).replace(/ in JSON at position \d+.*$/, '');
    throw new ConfigFileError(`${path} is not valid JSON: ${reason} at line ${line}, column ${column}`, { path, line, column }, { cause: error });
  }
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

/**
 * JSON files the CLI and the daemons read (api.json, coordinator.json, a --config file): a file
 * that does not parse is reported with its path and the parser's reason, never as a bare
 * `Unexpected token`.
 */
import { readFileSync } from 'node:fs';
import { LanesError } from '../core/errors.ts';

/** `path` is not valid JSON (`problem`: the parser's message); `details` says what to do. */
export class JsonFileError extends LanesError {
  override name = 'JsonFileError';
  readonly path: string;
  readonly problem: string;
  constructor(path: string, problem: string, details?: string) {
    super(`${path} is not valid JSON: ${problem}`, { code: 'BAD_JSON_FILE', ...(details === undefined ? {} : { details }) });
    this.path = path;
    this.problem = problem;
  }
}

/** The parsed contents of `path`; a JsonFileError (with `details`) if it does not parse. */
export function readJsonFile(path: string, details?: string): unknown {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new JsonFileError(path, e instanceof Error ? e.message : String(e), details);
  }
}

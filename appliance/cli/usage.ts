import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake on the command line: printed with the verb's usage, exit status 2. */
export class UsageError extends Error {
  constructor(message: string, readonly usage: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a verb's arguments strictly; `--help`/`-h` is accepted by every verb.
 * Returns undefined after printing the help, so the caller just returns.
 */
export interface ParsedVerb {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parseVerb(argv: string[], usage: string, options: Options, positionals = false): ParsedVerb | undefined {
  let parsed: ParsedVerb;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: positionals, strict: true }) as ParsedVerb;
  } catch (e) {
    throw new UsageError((e as Error).message, usage);
  }
  if (parsed.values.help) {
    process.stdout.write(usage.endsWith('\n') ? usage : usage + '\n');
    return undefined;
  }
  return parsed;
}

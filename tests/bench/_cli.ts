// The command-line shape every benchmark shares: options parsed by the script, `--help`, and a
// usage error that prints the usage and exits 2.

/** A wrong option or value; the message names it. */
export class UsageError extends Error {}

/**
 * The parsed options, or the exit code when there is nothing to run: 0 after printing the usage
 * for `--help`, 2 after a usage error (parseArgs' own errors are TypeErrors).
 */
export function optionsOrExit<O extends object>(
  parse: () => O | "help",
  usage: string,
): O | number {
  let options: O | "help";
  try {
    options = parse();
  } catch (error) {
    if (error instanceof UsageError || error instanceof TypeError) {
      console.error(`error: ${error.message}\n\n${usage}`);
      return 2;
    }
    throw error;
  }
  if (options === "help") {
    console.log(usage);
    return 0;
  }
  return options;
}

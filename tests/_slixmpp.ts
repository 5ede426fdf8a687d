// The Python interpreter that has slixmpp, for the interop tests that drive it.

/** Debian's python3-slixmpp installs into the system interpreter, which may not be first on PATH. */
const INTERPRETERS = ["/usr/bin/python3", "python3"];

/** The first interpreter that can import slixmpp, or undefined. */
export async function findSlixmppPython(): Promise<string | undefined> {
  for (const python of INTERPRETERS) {
    try {
      const probe = await new Deno.Command(python, {
        args: ["-c", "import slixmpp"],
        stdout: "null",
        stderr: "null",
        signal: AbortSignal.timeout(10_000),
      }).output();
      if (probe.success) return python;
    } catch {
      // not installed at this path
    }
  }
  return undefined;
}

// Runs the compliance checks (checks.ts) against any XMPP server and prints one line per check.
//
//   deno task compliance --host 127.0.0.1 --port 5222 --jid romeo@localhost --password pw
//   deno task compliance ... --direct-tls-port 5223 --json
import { parseArgs } from "node:util";
import { CHECKS, evaluate, probe } from "./checks.ts";

const USAGE = `Usage: deno task compliance --jid JID --password PW [options]

Logs in to an XMPP server as a client and reports, check by check, whether it offers
what today's clients look for (stream features, disco#info of the server, the account,
its services and a temporary room it creates and leaves). Exit status 0 when every
check marked "core" passes.

Options:
  --host H               where to connect (default: 127.0.0.1)
  --port P               client port (default: 5222)
  --jid JID              an existing account
  --password PW          its password
  --direct-tls-port P    also check XMPP over direct TLS on this port (XEP-0368)
  --json                 print one JSON line instead of the table
  -h, --help             show this help`;

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "5222" },
      jid: { type: "string" },
      password: { type: "string" },
      "direct-tls-port": { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help || values.jid === undefined || values.password === undefined) {
    console.log(USAGE);
    Deno.exit(values.help ? 0 : 2);
  }
  const directTls = values["direct-tls-port"];
  const results = evaluate(
    await probe({
      host: values.host,
      port: Number(values.port),
      jid: values.jid,
      password: values.password,
      directTlsPort: directTls === undefined ? undefined : Number(directTls),
    }),
  );
  const passed = results.filter((r) => r.passed).length;
  const core = results.filter((r) => r.check.core);
  const corePassed = core.filter((r) => r.passed).length;
  if (values.json) {
    console.log(JSON.stringify({
      passed,
      total: CHECKS.length,
      corePassed,
      core: core.length,
      checks: results.map(({ check, passed }) => ({ xep: check.xep, name: check.name, passed })),
    }));
  } else {
    for (const { check, passed } of results) {
      console.log(
        `${passed ? "pass" : "FAIL"}  ${check.xep.padEnd(9)} ${check.name}${
          check.core ? "" : "  (not core)"
        }`,
      );
    }
    console.log(
      `compliance: ${passed} of ${CHECKS.length} (core: ${corePassed} of ${core.length})`,
    );
  }
  Deno.exit(corePassed === core.length ? 0 : 1);
}

// A client that floods stanzas as fast as the server takes them, as a process of its own (so
// that its TLS work does not run in the measuring process). Prints how many it wrote.
//
//   deno run -A tests/abuse/flooder.ts PORT USER PASSWORD TO_JID MILLISECONDS
import { RawClient } from "../_raw_client.ts";

const [port, user, password, to, ms] = Deno.args;
const flooder = await RawClient.connect(Number(port));
await flooder.startTls();
await flooder.login(user, password, "flood");
console.log("logged in");
const message = `<message to='${to}' type='chat'><body>${"x".repeat(100)}</body></message>`;
const batch = message.repeat(50);
const end = performance.now() + Number(ms);
let sent = 0;
while (performance.now() < end && !flooder.closed) {
  const taken = await Promise.race([
    flooder.sendPaced(batch).then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), end - performance.now())),
  ]);
  sent += 50;
  if (!taken) break;
}
console.log(`sent ${sent} ${message.length}`);
flooder.close();
Deno.exit(0);

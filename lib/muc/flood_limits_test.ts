import { strict as assert } from "node:assert";
import { Harness } from "./_testing.ts";
import { JOINS_PER_USER, ROOM_CREATIONS_PER_USER } from "./flood_limits.ts";

Deno.test("one user creating rooms too fast is refused with resource-constraint; others are not", async () => {
  const h = new Harness();
  const answers: string[] = [];
  for (let i = 0; i <= ROOM_CREATIONS_PER_USER.burst; i++) {
    answers.push((await h.join("romeo@localhost/r", `room${i}@conference.localhost/Romeo`)).join());
  }
  assert.ok(answers.slice(0, -1).every((a) => a.includes("status code='201'")));
  assert.match(answers.at(-1)!, /type='error'.*<resource-constraint /);
  const other = await h.join("juliet@localhost/j", "another@conference.localhost/Juliet");
  assert.match(other.join(), /status code='201'/);
});

Deno.test("one user entering rooms too fast is refused with resource-constraint", async () => {
  const h = new Harness();
  await h.join("romeo@localhost/r", "hall@conference.localhost/Romeo");
  await h.configure("romeo@localhost/r", "hall@conference.localhost", {});
  let refused = 0;
  for (let i = 0; i < JOINS_PER_USER.burst + 5; i++) {
    const out = await h.join(`juliet@localhost/j${i}`, `hall@conference.localhost/Juliet${i}`);
    if (out.join().includes("<resource-constraint ")) refused++;
  }
  assert.ok(refused >= 4 && refused <= 6, `refused ${refused}`);
});

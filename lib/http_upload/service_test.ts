import { strict as assert } from "node:assert";
import { assertStanza } from "../replay/match.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";
import { createUploadService } from "./service.ts";
import { fileTooLarge, type SlotRequest, UPLOAD } from "./slots.ts";

function service() {
  const sent: Element[] = [];
  const asked: [string, SlotRequest][] = [];
  const component = createUploadService({
    domain: "upload.localhost",
    serverDomain: "localhost",
    name: "HTTP File Upload",
    maxFileSize: 5242880,
    issue: (username, request) => {
      asked.push([username, request]);
      if (request.size > 5242880) return Promise.reject(fileTooLarge(5242880));
      return Promise.resolve({
        id: "x",
        putUrl: "https://up/x/a",
        getUrl: "https://down/x/a",
        headers: [{ name: "Authorization", value: "Bearer t" }],
      });
    },
    // Serialised in a jabber:client stream, as the router delivers it.
    deliver: (stanza) =>
      void sent.push(Object.assign(stanza, { attrs: { xmlns: "jabber:client", ...stanza.attrs } })),
  });
  const handle = async (from: string, type: string, payload: Element, to = "upload.localhost") => {
    await component.handle(el("iq", { xmlns: "jabber:client", from, to, type, id: "1" }, payload));
    return sent.pop();
  };
  return { handle, asked };
}

async function refused(promise: Promise<unknown>): Promise<StanzaError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StanzaError) return error;
    throw error;
  }
  assert.fail("expected a StanzaError");
}

Deno.test("upload service: disco#info as XEP-0363 §3 example 4 (and the purposes), and no items", async () => {
  const { handle } = service();
  assertStanza(
    (await handle(
      "romeo@localhost/a",
      "get",
      el("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
    ))!,
    `<iq type="result" id="1" from="upload.localhost" to="romeo@localhost/a">
      <query xmlns="http://jabber.org/protocol/disco#info">
        <identity category="store" type="file" name="HTTP File Upload"/>
        <feature var="http://jabber.org/protocol/disco#info"/>
        <feature var="http://jabber.org/protocol/disco#items"/>
        <feature var="${UPLOAD}"/>
        <feature var="urn:xmpp:http:upload:purpose:0#message"/>
        <feature var="urn:xmpp:http:upload:purpose:0#ephemeral"/>
        <x xmlns="jabber:x:data" type="result">
          <field var="FORM_TYPE" type="hidden"><value>${UPLOAD}</value></field>
          <field var="max-file-size"><value>5242880</value></field>
        </x>
      </query>
    </iq>`,
  );
  assertStanza(
    (await handle(
      "romeo@localhost/a",
      "get",
      el("query", { xmlns: "http://jabber.org/protocol/disco#items" }),
    ))!,
    `<iq type="result" id="1"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`,
  );
});

Deno.test("upload service: a slot for a local user (§4), forbidden to others (§6)", async () => {
  const { handle, asked } = service();
  const request = el("request", { xmlns: UPLOAD, filename: "a", size: "3" });
  assertStanza(
    (await handle("romeo@localhost/a", "get", request))!,
    `<iq type="result" id="1">
      <slot xmlns="${UPLOAD}">
        <put url="https://up/x/a"><header name="Authorization">Bearer t</header></put>
        <get url="https://down/x/a"/>
      </slot>
    </iq>`,
  );
  assert.deepEqual(asked, [["romeo", { filename: "a", size: 3, contentType: undefined }]]);
  for (const from of ["romeo@example.net/a", "localhost", "conference.localhost"]) {
    const error = await refused(handle(from, "get", request));
    assert.deepEqual([error.type, error.condition], ["auth", "forbidden"], from);
  }
  let error = await refused(handle("romeo@localhost/a", "set", request));
  assert.equal(error.condition, "bad-request");
  error = await refused(
    handle(
      "romeo@localhost/a",
      "get",
      el("request", { xmlns: UPLOAD, filename: "a", size: "9999999" }),
    ),
  );
  assert.equal(error.condition, "not-acceptable");
  error = await refused(handle("romeo@localhost/a", "get", request, "someone@upload.localhost"));
  assert.equal(error.condition, "service-unavailable");
  error = await refused(
    handle("romeo@localhost/a", "get", el("query", { xmlns: "jabber:iq:version" })),
  );
  assert.equal(error.condition, "service-unavailable");
  // Not for us to answer: results, errors, messages.
  assert.equal(await handle("romeo@localhost/a", "result", el("x")), undefined);
  assert.equal(asked.length, 2);
});

// The upload service's XMPP side, a component at upload.<domain>: XEP-0363 §3 (disco#info with
// identity store/file, the feature, and the XEP-0128 form with max-file-size), §4 (slot requests
// from local users, answered with <slot><put><header/></put><get/></slot>), the purposes of
// §5, message (the default) and ephemeral (a file not served after expire-before), and §6's errors.
import { parseJid } from "../jid/jid.ts";
import { type Component, serviceRequest } from "../router/component.ts";
import { NS } from "../stanza/ns.ts";
import { reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { buildForm } from "../forms/data_form.ts";
import { el, type Element } from "../xml/element.ts";
import { PURPOSE, readRequest, type Slot, type SlotRequest, UPLOAD } from "./slots.ts";

/** What the component needs. */
export interface UploadServiceOptions {
  /** The component's domain. */
  domain: string;
  /** The server's domain: only its users may upload. */
  serverDomain: string;
  /** The name of its identity. */
  name: string;
  /** Announced as max-file-size (§3). */
  maxFileSize: number;
  /** Issues a slot to a local user, or throws the StanzaError that says why not (slots.ts). */
  issue(username: string, request: SlotRequest): Promise<Slot>;
  deliver(stanza: Element): void | Promise<void>;
  log?(line: string): void;
}

/** The component. */
export function createUploadService(options: UploadServiceOptions): Component {
  return { domain: options.domain, handle: (stanza) => handle(options, stanza) };
}

/** §3: the service's disco#info payload. */
export function uploadDiscoInfo(name: string, maxFileSize: number): Element {
  return el(
    "query",
    { xmlns: NS.DISCO_INFO },
    el("identity", { category: "store", type: "file", name }),
    el("feature", { var: NS.DISCO_INFO }),
    el("feature", { var: NS.DISCO_ITEMS }),
    el("feature", { var: UPLOAD }),
    el("feature", { var: `${PURPOSE}#message` }),
    el("feature", { var: `${PURPOSE}#ephemeral` }),
    buildForm({
      type: "result",
      formType: UPLOAD,
      fields: [{ var: "max-file-size", values: [String(maxFileSize)] }],
    }),
  );
}

async function handle(options: UploadServiceOptions, stanza: Element): Promise<void> {
  const iq = serviceRequest(stanza, options.domain);
  if (iq === null) return;
  const { type, query } = iq;
  if (type === "get" && query.is("query", NS.DISCO_INFO)) {
    if (query.attrs.node) throw new StanzaError("cancel", "item-not-found");
    return await options.deliver(
      reply(stanza).append(uploadDiscoInfo(options.name, options.maxFileSize)),
    );
  }
  if (type === "get" && query.is("query", NS.DISCO_ITEMS)) {
    if (query.attrs.node) throw new StanzaError("cancel", "item-not-found");
    return await options.deliver(reply(stanza).append(el("query", { xmlns: NS.DISCO_ITEMS })));
  }
  if (!query.is("request", UPLOAD)) throw new StanzaError("cancel", "service-unavailable");
  // §4: a slot is asked for with an IQ-get.
  if (type !== "get") throw new StanzaError("modify", "bad-request", { text: "Use type='get'" });
  const from = parseJid(stanza.attrs.from!);
  // §6: who may not upload gets forbidden: this server's users only (their quota, their files).
  if (from.domain !== options.serverDomain || from.local === "") {
    throw new StanzaError("auth", "forbidden", {
      text: `Only users of ${options.serverDomain} may upload files here`,
    });
  }
  const request = readRequest(query);
  const slot = await options.issue(from.local, request);
  options.log?.(
    `http_upload: slot ${slot.id} for ${from.bare}: ${request.size} bytes` +
      (request.contentType ? ` (${request.contentType})` : ""),
  );
  await options.deliver(
    reply(stanza).append(
      el(
        "slot",
        { xmlns: UPLOAD },
        el(
          "put",
          { url: slot.putUrl },
          ...slot.headers.map(({ name, value }) => el("header", { name }, value)),
        ),
        el("get", { url: slot.getUrl }),
      ),
    ),
  );
}

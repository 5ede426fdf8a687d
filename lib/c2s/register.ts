// In-Band Registration (XEP-0077): creating an account before authentication (§3.1), and for a
// logged-in user changing the password (§3.3) and removing the account (§3.2).
import { AccountError, Accounts } from "../accounts/accounts.ts";
import type { IqContext, IqHandler } from "../router/iq.ts";
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";
import { accountReply, accountTarget } from "./_account.ts";

/** What a c2s stream asks of registration before authentication. */
export interface PreAuthRegistration {
  /** Whether to offer the stream feature (the stream offers it only once encrypted). */
  readonly allowed: boolean;
  /**
   * Answers a `jabber:iq:register` iq from a stream that has not authenticated; throws
   * `StanzaError` for the error reply.
   */
  handle(stanza: Element, stream: { encrypted: boolean }): Promise<Element>;
}

/** Options for {@linkcode registerModule}. */
export interface RegisterOptions {
  accounts: Accounts;
  /** `[registration] allow`: whether clients may create accounts before authenticating. */
  allow: boolean;
  log(line: string): void;
}

const INSTRUCTIONS = "Choose a username and password for use with this service.";

/**
 * Registers the handlers for logged-in users — always on, addressed to the server or to one's
 * own bare JID: the registration form (§3.2 `<registered/>`), password change and account removal —
 * and returns what the c2s stream needs for registration before authentication.
 *
 * Removal answers the iq, deletes the account (roster, vCard, private XML, offline messages and
 * the rest go with it through the schema's cascades; a tombstone reserves the name for
 * `[registration] tombstone_days`), then ends every session of the account with the
 * `<not-authorized/>` stream error XEP-0077 §3.2 recommends.
 */
export function registerModule(router: Router, options: RegisterOptions): PreAuthRegistration {
  const { accounts, log } = options;

  const loggedIn = async (stanza: Element, context: IqContext): Promise<Element> => {
    const origin = context.origin;
    if (origin === undefined) {
      throw new StanzaError("auth", "forbidden", { text: "Only local users may do this" });
    }
    const username = origin.jid.local;
    const query = stanza.getChild("query", NS.REGISTER)!;
    if (stanza.attrs.type === "get") {
      return accountReply(stanza, context).append(
        el(
          "query",
          { xmlns: NS.REGISTER },
          el("registered"),
          el("username", {}, username),
          el("password"),
        ),
      );
    }
    if (query.getChild("remove")) {
      if (!accounts.remove(username)) throw new StanzaError("cancel", "item-not-found");
      log(`${origin.id} ${origin.jid.full} removed its account`);
      // The router sends the answer once this handler has returned; the sessions end right after
      // it, in this turn of the event loop, before any further input is read.
      setImmediate(() => {
        for (const session of router.sessionsOf(origin.jid.bare)) {
          session.closeWithError("not-authorized", "Account removed");
        }
      });
      return accountReply(stanza, context);
    }
    const given = query.getChildText("username");
    const password = query.getChildText("password");
    if (given === undefined || password === undefined) {
      throw new StanzaError("modify", "bad-request", {
        text: "A password change needs <username/> and <password/>",
      });
    }
    if (preparedOrNull(given) !== username) {
      throw new StanzaError("modify", "bad-request", {
        text: "That is not the username of this account",
      });
    }
    await refusalsAsErrors(() => accounts.setPassword(username, password));
    log(`${origin.id} ${origin.jid.full} changed its password`);
    return accountReply(stanza, context);
  };

  router.iq.on("server", "query", NS.REGISTER, loggedIn);
  const onAccount: IqHandler = (stanza, context) => {
    if (!accountTarget(stanza, context).own) {
      throw new StanzaError("auth", "forbidden", {
        text: "Only the account's owner may manage its registration",
      });
    }
    return loggedIn(stanza, context);
  };
  router.iq.on("account", "query", NS.REGISTER, onAccount);

  return {
    allowed: options.allow,
    async handle(stanza, stream) {
      const type = stanza.attrs.type;
      if (type !== "get" && type !== "set") {
        throw new StanzaError("modify", "bad-request", { text: "Expected an iq get or set" });
      }
      if (!options.allow) {
        throw new StanzaError("cancel", "not-allowed", {
          text: "In-band registration is disabled on this server",
        });
      }
      if (!stream.encrypted) {
        throw new StanzaError("modify", "not-acceptable", { text: "Encryption is required" });
      }
      const query = stanza.getChild("query", NS.REGISTER)!;
      if (type === "get") {
        return reply(stanza).append(
          el(
            "query",
            { xmlns: NS.REGISTER },
            el("instructions", {}, INSTRUCTIONS),
            el("username"),
            el("password"),
          ),
        );
      }
      if (query.getChild("remove")) {
        throw new StanzaError("auth", "registration-required", {
          text: "Log in to remove an account",
        });
      }
      const username = query.getChildText("username") ?? "";
      const password = query.getChildText("password") ?? "";
      if (username === "" || password === "") {
        throw new StanzaError("modify", "not-acceptable", {
          text: "A username and a password are required",
        });
      }
      await refusalsAsErrors(() => accounts.register(username, password));
      log(`registered ${Accounts.prepUsername(username)}@${router.domain} in-band`);
      return reply(stanza);
    },
  };
}

function preparedOrNull(username: string): string | null {
  try {
    return Accounts.prepUsername(username);
  } catch {
    return null;
  }
}

/** Runs an account operation, turning its refusals into the stanza errors of XEP-0077 §3. */
async function refusalsAsErrors(operation: () => Promise<void>): Promise<void> {
  try {
    await operation();
  } catch (error) {
    if (!(error instanceof AccountError)) throw error;
    switch (error.reason) {
      case "exists":
        throw new StanzaError("cancel", "conflict", { text: "That username is taken" });
      case "reserved":
        throw new StanzaError("cancel", "conflict", { text: error.message });
      case "invalid-username":
      case "invalid-password":
        throw new StanzaError("modify", "not-acceptable", { text: error.message });
      case "no-such-user":
        throw new StanzaError("cancel", "item-not-found", { text: error.message });
      default:
        throw error;
    }
  }
}

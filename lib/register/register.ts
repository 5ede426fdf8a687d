// In-Band Registration (XEP-0077): creating an account before authentication (§3.1), and for a
// logged-in user changing the password (§3.3) and removing the account (§3.2, with RFC 6121 §3's
// presences to the contacts).
import { AccountError, Accounts } from "../accounts/accounts.ts";
import type { IqContext, IqHandler } from "../router/iq.ts";
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { PreAuthRegistration } from "../c2s/register.ts";
import { el, type Element } from "../xml/element.ts";
import { accountReply, accountTarget } from "../modules/account_iq.ts";
import { tombstonePresence } from "./tombstone_presence.ts";

export type { PreAuthRegistration } from "../c2s/register.ts";

/** Options for {@linkcode registerModule}. */
export interface RegisterOptions {
  accounts: Accounts;
  /** `[registration] allow`: whether clients may create accounts before authenticating. */
  allow: boolean;
  /**
   * `[registration] min_seconds_between`: seconds an IP address waits after an in-band
   * registration before it may register another account; 0: no limit.
   */
  minSecondsBetween: number;
  /**
   * Collects, while the account's roster still exists, what its contacts must be told of its
   * removal, and returns the function that tells them (see `prepareAccountRemoval` in
   * lib/im/account_removal.ts). Without it, contacts are not told.
   */
  prepareRemoval?(username: string): () => void;
  /** The clock, in Unix milliseconds (tests). */
  now?: () => number;
  log(line: string): void;
}

const INSTRUCTIONS = "Choose a username and password for use with this service.";

/**
 * Registers the handlers for logged-in users — always on, addressed to the server or to one's
 * own bare JID: the registration form (§3.2 `<registered/>`), password change and account removal —
 * and returns what the c2s stream needs for registration before authentication.
 *
 * Removal collects what the contacts must be told (it needs the roster, which the deletion takes),
 * deletes the account (roster, vCard, private XML, offline messages and the rest go with it
 * through the schema's cascades; a tombstone reserves the name for `[registration]
 * tombstone_days`), answers the iq, then tells the contacts — `unsubscribe`, `unsubscribed` and
 * `unavailable` as if the user had removed every roster item (RFC 6121 §2.5.2, §3.2.2, §3.3.2) —
 * and ends every session of the account with the `<not-authorized/>` stream error XEP-0077 §3.2
 * recommends.
 *
 * A password change ends the account's other sessions with the `<reset/>` stream error and keeps
 * the one that made the change. XEP-0077 §3.3 says nothing either way; this is Prosody's default
 * (0.12's mod_c2s closes the other sessions on `user-password-changed` with `reset`, "Password
 * changed"), and it means a stolen session does not outlive the password that opened it. The
 * condition is `reset`, not `not-authorized`: the account is fine, the client should log in again
 * (RFC 6120 §4.9.3.16: security-critical state changed during the stream's life).
 *
 * Registration before authentication is limited to one account per IP address per
 * `minSecondsBetween` (Prosody's `min_seconds_between_registrations`); see
 * {@linkcode RegistrationThrottle}.
 */
export function registerModule(router: Router, options: RegisterOptions): PreAuthRegistration {
  const { accounts, log } = options;
  const throttle = new RegistrationThrottle(options.minSecondsBetween * 1000, options.now);
  // A removed account's former contacts are told it is gone while its name is reserved.
  tombstonePresence(router, accounts);

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
      // Before the deletion: the roster rows go with the account (foreign keys cascade).
      const tellContacts = options.prepareRemoval?.(username);
      if (!accounts.remove(username)) throw new StanzaError("cancel", "item-not-found");
      log(`${origin.id} ${origin.jid.full} removed its account`);
      // The router sends the answer once this handler has returned; the contacts are told and the
      // sessions end right after it, in this turn of the event loop, before any further input is
      // read — so the answer comes before the presences the contacts' servers send back.
      setImmediate(() => {
        tellContacts?.();
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
    for (const session of router.sessionsOf(origin.jid.bare)) {
      if (session !== origin) session.closeWithError("reset", "Password changed");
    }
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
      const wait = throttle.waitMs(stream.address);
      if (wait > 0) {
        // RFC 6120 §8.3.3.12: a local policy, not a lack of resources (resource-constraint), and
        // `wait` because retrying later works; XEP-0077 defines no condition of its own for
        // this. Prosody's mod_register_limits answers the same.
        throw new StanzaError("wait", "policy-violation", {
          text: `Too many registrations from your address; try again in ${
            Math.ceil(wait / 1000)
          } seconds`,
        });
      }
      // Held while the keys are derived, so that concurrent attempts cannot both pass; a refused
      // attempt (a taken name, say) gives the slot back.
      throttle.hold(stream.address);
      try {
        await refusalsAsErrors(() => accounts.register(username, password));
      } catch (error) {
        throttle.release(stream.address);
        throw error;
      }
      log(`registered ${Accounts.prepUsername(username)}@${router.domain} in-band`);
      return reply(stanza);
    },
  };
}

/**
 * One in-band registration per IP address per window (Prosody's
 * `min_seconds_between_registrations`). Unlike Prosody, loopback addresses are not exempt: the
 * window applies to every address, and only registrations that succeed (or are in progress) count.
 */
export class RegistrationThrottle {
  #windowMs: number;
  #now: () => number;
  /** When each address last registered (or began to). */
  #last = new Map<string, number>();

  constructor(windowMs: number, now: () => number = Date.now) {
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Milliseconds until `address` may register again; 0 if it may now. */
  waitMs(address: string): number {
    if (this.#windowMs === 0) return 0;
    const last = this.#last.get(address);
    return last === undefined ? 0 : Math.max(0, last + this.#windowMs - this.#now());
  }

  /** Starts the window of `address`, and forgets the addresses whose window has passed. */
  hold(address: string): void {
    if (this.#windowMs === 0) return;
    const now = this.#now();
    for (const [other, at] of this.#last) {
      if (at + this.#windowMs <= now) this.#last.delete(other);
    }
    this.#last.set(address, now);
  }

  /** Gives back the window of a registration that was refused. */
  release(address: string): void {
    this.#last.delete(address);
  }
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

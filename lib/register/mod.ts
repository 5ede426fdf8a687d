// In-Band Registration (XEP-0077) as a server module, section [registration]: see register.ts
// and tombstone_presence.ts. The module is on by default; `allow` governs account creation.
import { boolean, integer } from "../config/values.ts";
import { accountRemoval, type BlockingApi, type RosterApi } from "../im/mod.ts";
import type { NamedModule } from "../modules/module.ts";
import { type PreAuthRegistration, registerModule } from "./register.ts";

export { type PreAuthRegistration, registerModule, RegistrationThrottle } from "./register.ts";
export { tombstonePresence } from "./tombstone_presence.ts";

/** Default `[registration] tombstone_days`. */
export const DEFAULT_TOMBSTONE_DAYS = 30;
/** Default `[registration] min_seconds_between`: one in-band registration per IP per 5 minutes. */
export const DEFAULT_MIN_SECONDS_BETWEEN_REGISTRATIONS = 300;

/** `[registration]` options. */
export interface RegistrationConfig {
  /** Whether clients may create accounts themselves, over TLS, before authenticating. */
  allow: boolean;
  /**
   * Days the name of a removed account stays reserved; 0 frees it at once. The accounts (core)
   * apply it, also to `verona deluser` and with the module disabled.
   */
  tombstoneDays: number;
  /**
   * Seconds an IP address must wait after an in-band registration before it may register another
   * account (Prosody's `min_seconds_between_registrations`); 0 disables the limit.
   */
  minSecondsBetween: number;
}

/**
 * Registration, password change and account removal; presence to removed accounts. Its API is
 * what the c2s streams use before authentication. Removal tells the contacts when the roster
 * module runs (and leaves out the blocked ones when the blocking module runs).
 */
export const REGISTRATION_MODULE: NamedModule<
  "registration",
  RegistrationConfig,
  PreAuthRegistration,
  { roster?: RosterApi; blocking?: BlockingApi }
> = {
  name: "registration",
  description: "In-Band Registration (XEP-0077): create (if allowed), change password, remove",
  dependsOn: [],
  uses: ["roster", "blocking"],
  options: {
    allow: { default: false, read: boolean },
    tombstoneDays: {
      default: DEFAULT_TOMBSTONE_DAYS,
      read: (key, value) => integer(key, value, 0, 36_500),
    },
    minSecondsBetween: {
      default: DEFAULT_MIN_SECONDS_BETWEEN_REGISTRATIONS,
      read: (key, value) => integer(key, value, 0, 86_400),
    },
  },
  start({ router, accounts, config, modules, log }) {
    const registration = registerModule(router, {
      accounts,
      allow: config.allow,
      minSecondsBetween: config.minSecondsBetween,
      prepareRemoval: modules.roster && accountRemoval(router, modules.roster, modules.blocking),
      log,
    });
    return { api: registration };
  },
};

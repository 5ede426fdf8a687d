// External Service Discovery (XEP-0215) as a server module, section [external_services]: STUN
// and TURN servers announced to the server's users, TURN with time-limited credentials for
// coturn's use-auth-secret. See external_services.ts (the protocol), credentials.ts (the
// credentials) and _options.ts (the section).
import { boolean, integer, invalid } from "../config/values.ts";
import type { NamedModule } from "../modules/module.ts";
import { externalServicesModule } from "./external_services.ts";
import {
  checkOptions,
  configuredServices,
  type ExternalServicesOptions,
  readHost,
  readServices,
} from "./_options.ts";

export { type TurnCredentials, turnCredentials } from "./credentials.ts";
export { externalServicesModule, type ExternalServicesModuleOptions } from "./external_services.ts";
export {
  configuredServices,
  type ExternalService,
  type ExternalServicesOptions,
  MAX_SERVICES,
  type ServiceType,
  type Transport,
} from "./_options.ts";

/** Prosody's default lifetime of TURN credentials (mod_external_services, mod_turn_external). */
export const DEFAULT_TTL_SECONDS = 86_400;

/** Announces the configured STUN/TURN services; nothing at all when none is configured. */
export const EXTERNAL_SERVICES_MODULE: NamedModule<"external_services", ExternalServicesOptions> = {
  name: "external_services",
  description: "External Service Discovery (XEP-0215): STUN/TURN servers and TURN credentials",
  dependsOn: [],
  options: {
    services: { default: [], read: readServices },
    secret: {
      default: "",
      read: (key, value) => typeof value === "string" ? value : invalid(key, "a string", value),
    },
    ttlSeconds: {
      default: DEFAULT_TTL_SECONDS,
      read: (key, value) => integer(key, value, 60, 31_536_000),
    },
    turnHost: { default: "", read: readHost },
    turnPort: { default: 3478, read: (key, value) => integer(key, value, 1, 65535) },
    turnTcp: { default: false, read: boolean },
    turnTlsPort: { default: 0, read: (key, value) => integer(key, value, 0, 65535) },
  },
  check: checkOptions,
  start({ router, config }) {
    // The section may have been changed after it was read (tests do): check it again.
    checkOptions(config);
    externalServicesModule(router, configuredServices(config), {
      secret: config.secret,
      ttlSeconds: config.ttlSeconds,
    });
  },
};

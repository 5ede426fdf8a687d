// The modules this build ships, in the order they start (dependencies first; the loader keeps
// this order where dependencies allow). Adding a feature to the server is adding it here.
import { AVATARS_MODULE } from "../avatars/mod.ts";
import { BOOKMARKS_MODULE } from "../bookmarks/mod.ts";
import { CAPS_MODULE } from "../caps/mod.ts";
import { CONTACT_MODULE } from "../contact_addresses/mod.ts";
import { DISCO_MODULE } from "../disco/mod.ts";
import { ENTITY_TIME_MODULE } from "../entity_time/mod.ts";
import { EXTERNAL_SERVICES_MODULE } from "../external_services/mod.ts";
import { HTTP_MODULE } from "../http/mod.ts";
import { HTTP_UPLOAD_MODULE } from "../http_upload/mod.ts";
import {
  BLOCKING_MODULE,
  CARBONS_MODULE,
  OFFLINE_MODULE,
  PRESENCE_MODULE,
  ROSTER_MODULE,
} from "../im/mod.ts";
import { LAST_ACTIVITY_MODULE } from "../last_activity/mod.ts";
import { MAM_MODULE } from "../mam/mod.ts";
import { METRICS_MODULE } from "../metrics/mod.ts";
import { MUC_MODULE } from "../muc/mod.ts";
import { PEP_MODULE } from "../pep/mod.ts";
import { PING_MODULE } from "../ping/mod.ts";
import { PRIVATE_STORAGE_MODULE } from "../private_storage/mod.ts";
import { PROXY65_MODULE } from "../proxy65/mod.ts";
import { WEBSOCKET_MODULE } from "../websocket/mod.ts";
import { HOST_META_MODULE } from "../host_meta/mod.ts";
import { PUSH_MODULE } from "../push/mod.ts";
import { REGISTRATION_MODULE } from "../register/mod.ts";
import { S2S_MODULE } from "../s2s/mod.ts";
import { VCARD_MODULE } from "../vcard/mod.ts";
import { VERSION_MODULE } from "../version/mod.ts";

/** Every built-in module; each has a `[name]` section in the configuration. */
export const BUILTIN_MODULES = [
  HTTP_MODULE,
  DISCO_MODULE,
  PING_MODULE,
  VERSION_MODULE,
  ROSTER_MODULE,
  BLOCKING_MODULE,
  LAST_ACTIVITY_MODULE,
  PRESENCE_MODULE,
  OFFLINE_MODULE,
  CARBONS_MODULE,
  MAM_MODULE,
  ENTITY_TIME_MODULE,
  CONTACT_MODULE,
  EXTERNAL_SERVICES_MODULE,
  VCARD_MODULE,
  PRIVATE_STORAGE_MODULE,
  CAPS_MODULE,
  PEP_MODULE,
  BOOKMARKS_MODULE,
  AVATARS_MODULE,
  REGISTRATION_MODULE,
  MUC_MODULE,
  PROXY65_MODULE,
  WEBSOCKET_MODULE,
  HOST_META_MODULE,
  METRICS_MODULE,
  HTTP_UPLOAD_MODULE,
  PUSH_MODULE,
  S2S_MODULE,
] as const;

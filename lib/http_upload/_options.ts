// The [http_upload] section: limits on what users may upload, and for how long files are kept
// (after Prosody's mod_http_file_share: http_file_share_size_limit, _daily_quota, _expires_after,
// _allowed_file_types, renamed for one section).
import { domainName, integer, invalid, InvalidValue } from "../config/values.ts";
import { readExpiry } from "../mam/expiry.ts";
import type { ModuleOptions } from "../modules/module.ts";

/** `[http_upload]` options. */
export interface HttpUploadConfig {
  /** The service's domain; "" for upload.<domain>. */
  domain: string;
  /** The name in its disco#info identity. */
  name: string;
  /** Largest file, bytes (announced as max-file-size, XEP-0363 §3). */
  maxFileSize: number;
  /** Bytes one user may hold at once (files not expired, slots not used yet); 0: no limit. */
  quotaBytes: number;
  /** Bytes one user may upload in 24 hours (files still kept, slots pending); 0: no limit. */
  dailyQuotaBytes: number;
  /** How long files are served, ms; 0 keeps them. In the file: "1w", "30d", "never"... */
  expiresAfter: number;
  /** Media types that may be uploaded (`image/*` for a whole type); empty: any. */
  allowedTypes: string[];
  /** Seconds a slot may wait for its PUT (XEP-0363 §8 recommends about 300). */
  slotTimeout: number;
  /** Slots one user may ask for per minute (and in a burst). */
  slotsPerMinute: number;
}

/** Prosody's 10 MiB is small for phone videos; see lib/http_upload/mod.ts. */
export const DEFAULT_MAX_FILE_SIZE = 100 * 1024 * 1024;
/** Ten files of the largest size. */
export const DEFAULT_QUOTA_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_EXPIRES_AFTER = "1w";

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]{0,126})$/;

function readTypes(key: string, value: unknown): string[] {
  if (!Array.isArray(value)) invalid(key, 'an array of media types such as ["image/*"]', value);
  return value.map((type: unknown, i) => {
    if (typeof type !== "string" || !MEDIA_TYPE.test(type.toLowerCase())) {
      invalid(`${key}[${i}]`, 'a media type such as "image/png" or "image/*"', type);
    }
    return type.toLowerCase();
  });
}

function readName(key: string, value: unknown): string {
  if (typeof value !== "string" || value.trim() === "" || value.length > 100) {
    invalid(key, "a name of 1 to 100 characters", value);
  }
  return value;
}

/** The options and their readers. */
export const HTTP_UPLOAD_OPTIONS: ModuleOptions<HttpUploadConfig> = {
  domain: { default: "", read: domainName },
  name: { default: "HTTP File Upload", read: readName },
  maxFileSize: {
    default: DEFAULT_MAX_FILE_SIZE,
    read: (key, value) => integer(key, value, 1, Number.MAX_SAFE_INTEGER),
  },
  quotaBytes: {
    default: DEFAULT_QUOTA_BYTES,
    read: (key, value) => integer(key, value, 0, Number.MAX_SAFE_INTEGER),
  },
  dailyQuotaBytes: {
    default: 0,
    read: (key, value) => integer(key, value, 0, Number.MAX_SAFE_INTEGER),
  },
  expiresAfter: { default: readExpiry("", DEFAULT_EXPIRES_AFTER), read: readExpiry },
  allowedTypes: { default: [], read: readTypes },
  slotTimeout: { default: 300, read: (key, value) => integer(key, value, 10, 86_400) },
  slotsPerMinute: { default: 30, read: (key, value) => integer(key, value, 1, 100_000) },
};

/** Cross-check: a quota smaller than one file would refuse every large file. */
export function checkOptions(config: Readonly<HttpUploadConfig>): void {
  for (const key of ["quotaBytes", "dailyQuotaBytes"] as const) {
    if (config[key] !== 0 && config[key] < config.maxFileSize) {
      const name = key === "quotaBytes" ? "quota_bytes" : "daily_quota_bytes";
      throw new InvalidValue(
        `http_upload.${name} (${
          config[key]
        }) must be 0 or at least max_file_size (${config.maxFileSize})`,
      );
    }
  }
}

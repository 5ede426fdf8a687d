// Room nicknames. XEP-0045 §7.2.9 (nickname conflicts), §7.6; RFC 7622 §3.4 (resourcepart,
// the PRECIS OpaqueString profile) and RFC 8266 (nicknames), applied strictly as Prosody applies
// resourceprep: a nickname that is not a valid resourcepart is refused, never silently changed.
import { prepResource } from "../jid/jid.ts";

// PRECIS FreeformClass (RFC 8264 §9.1) disallows controls, unassigned code points, surrogates,
// noncharacters and default-ignorable code points; private use is disallowed for nicknames here too
// because clients cannot show it.
const DISALLOWED =
  /[\p{Cc}\p{Cn}\p{Cs}\p{Co}\p{Default_Ignorable_Code_Point}\uFDD0-\uFDEF\u{FFFE}\u{FFFF}]/u;
// RFC 8266 §2.1: non-ASCII spaces are not kept as such.
const ODD_SPACE = /[\p{Zs}\u2028\u2029]/u;

/** Why a nickname is refused; the message is sent as the error's text. */
export class NickError extends Error {}

/**
 * Prepares a nickname: NFC (as resourceparts are), then refuses anything PRECIS would not accept,
 * leading or trailing spaces, and non-ASCII spaces. Throws {@linkcode NickError} saying why.
 */
export function prepNick(raw: string): string {
  let nick: string;
  try {
    nick = prepResource(raw);
  } catch (error) {
    throw new NickError(error instanceof Error ? error.message : String(error));
  }
  const bad = nick.match(DISALLOWED);
  if (bad !== null) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    throw new NickError(`"${raw}" contains a character not allowed in nicknames (U+${code})`);
  }
  if (nick !== nick.trim()) throw new NickError(`"${raw}" begins or ends with a space`);
  if ([...nick].some((c) => c !== " " && ODD_SPACE.test(c))) {
    throw new NickError(`"${raw}" contains a space other than U+0020`);
  }
  return nick;
}

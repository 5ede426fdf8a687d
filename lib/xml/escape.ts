// XML escaping for text and attribute values (XML 1.0 §2.4, §3.1).

const TEXT_SPECIAL = /[&<>]/g;
const ATTR_SPECIAL = /[&<>"']/g;
const ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

function entity(char: string): string {
  return ENTITIES[char];
}

/** Escapes character data: `&`, `<` and `>` (the last so `]]>` can never appear). */
export function escapeText(text: string): string {
  return TEXT_SPECIAL.test(text) ? text.replace(TEXT_SPECIAL, entity) : text;
}

/** Escapes an attribute value for either quote style. */
export function escapeAttr(value: string): string {
  return ATTR_SPECIAL.test(value) ? value.replace(ATTR_SPECIAL, entity) : value;
}

// Indented XML for failure reports: one element per line, text on its element's line.
import { type Element, escapeAttr, escapeText } from "../xml/mod.ts";
import { NS } from "../stanza/ns.ts";

/** `element` as indented lines; `jabber:client` is left implicit at the top. */
export function prettyXml(element: Element, parentNs: string = NS.CLIENT): string {
  const lines: string[] = [];
  write(element, parentNs, "", lines);
  return lines.join("\n");
}

function write(element: Element, parentNs: string, indent: string, lines: string[]): void {
  let open = "<" + element.name;
  const { xmlns, ...attrs } = element.attrs;
  // The namespace first, where a reader looks for it.
  if (xmlns !== undefined && xmlns !== parentNs) open += ` xmlns='${escapeAttr(xmlns)}'`;
  for (const key in attrs) open += ` ${key}='${escapeAttr(attrs[key])}'`;
  const ns = element.attrs.xmlns ?? parentNs;
  const children = element.elements();
  const text = element.getText().trim();
  if (children.length === 0) {
    lines.push(
      indent + (text === "" ? open + "/>" : `${open}>${escapeText(text)}</${element.name}>`),
    );
    return;
  }
  lines.push(indent + open + ">");
  if (text !== "") lines.push(indent + "  " + escapeText(text));
  for (const child of children) write(child, ns, indent + "  ", lines);
  lines.push(`${indent}</${element.name}>`);
}

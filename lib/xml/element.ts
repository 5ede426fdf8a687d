// A small immutable-by-convention XML element: the stanza type of the whole server.
import { escapeAttr, escapeText } from "./escape.ts";

/** A child of an element: another element or character data. */
export type XmlNode = Element | string;

/** Attribute map. `xmlns` holds the element's namespace when it differs from its parent's. */
export type Attrs = Record<string, string>;

/**
 * An XML element with its attributes and children.
 *
 * Namespaces follow Prosody's rule: a child without its own `xmlns` is in its
 * parent's namespace, and lookups default to the parent's namespace.
 */
export class Element {
  readonly name: string;
  readonly attrs: Attrs;
  readonly children: XmlNode[];

  constructor(name: string, attrs: Attrs = {}, children: XmlNode[] = []) {
    this.name = name;
    this.attrs = attrs;
    this.children = children;
  }

  /** The element's own namespace declaration, if any. */
  get ns(): string | undefined {
    return this.attrs.xmlns;
  }

  /** True when the element has this name and (if given) this namespace. */
  is(name: string, ns?: string): boolean {
    return this.name === name && (ns === undefined || this.attrs.xmlns === ns);
  }

  /** The first child element with this name and namespace (default: this element's). */
  getChild(name: string, ns?: string): Element | undefined {
    const want = ns ?? this.attrs.xmlns;
    for (const child of this.children) {
      if (
        typeof child !== "string" && child.name === name &&
        (child.attrs.xmlns ?? this.attrs.xmlns) === want
      ) return child;
    }
    return undefined;
  }

  /** Every child element with this name and namespace (default: this element's). */
  getChildren(name: string, ns?: string): Element[] {
    const want = ns ?? this.attrs.xmlns;
    return this.elements().filter((child) =>
      child.name === name && (child.attrs.xmlns ?? this.attrs.xmlns) === want
    );
  }

  /** The first child element in a namespace, whatever its name. */
  getChildByNs(ns: string): Element | undefined {
    for (const child of this.children) {
      if (typeof child !== "string" && child.attrs.xmlns === ns) return child;
    }
    return undefined;
  }

  /** The child elements, without text. */
  elements(): Element[] {
    return this.children.filter((child): child is Element => typeof child !== "string");
  }

  /** The text of the first matching child, or undefined if there is no such child. */
  getChildText(name: string, ns?: string): string | undefined {
    return this.getChild(name, ns)?.getText();
  }

  /** The concatenated character data directly inside this element. */
  getText(): string {
    let text = "";
    for (const child of this.children) if (typeof child === "string") text += child;
    return text;
  }

  /** Appends children and returns this element, for building. */
  append(...children: (XmlNode | undefined | null | false)[]): this {
    for (const child of children) {
      if (child !== undefined && child !== null && child !== false && child !== "") {
        this.children.push(child);
      }
    }
    return this;
  }

  /** A deep copy, with attributes optionally replaced at the top level. */
  clone(attrs?: Attrs): Element {
    return new Element(
      this.name,
      attrs ?? { ...this.attrs },
      this.children.map((child) => typeof child === "string" ? child : child.clone()),
    );
  }

  /** Serializes, declaring a namespace only where it differs from `parentNs`. */
  toString(parentNs?: string): string {
    let out = "<" + this.name;
    const ownNs = this.attrs.xmlns;
    for (const key in this.attrs) {
      const value = this.attrs[key];
      if (key === "xmlns" && value === parentNs) continue;
      out += " " + key + "='" + escapeAttr(value) + "'";
    }
    if (this.children.length === 0) return out + "/>";
    out += ">";
    const childNs = ownNs ?? parentNs;
    for (const child of this.children) {
      out += typeof child === "string" ? escapeText(child) : child.toString(childNs);
    }
    return out + "</" + this.name + ">";
  }
}

/**
 * Builds an element by nesting: `el("message", { to }, el("body", {}, "hi"))`.
 * Falsy children are dropped so optional parts read naturally.
 */
export function el(
  name: string,
  attrs: Record<string, string | number | undefined | null> = {},
  ...children: (XmlNode | undefined | null | false)[]
): Element {
  const clean: Attrs = {};
  for (const key in attrs) {
    const value = attrs[key];
    if (value !== undefined && value !== null) clean[key] = String(value);
  }
  return new Element(name, clean).append(...children);
}

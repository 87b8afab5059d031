/**
 * A thin reader over libxml2-wasm elements that tracks the element path as it descends.
 *
 * Each crossing into WebAssembly costs, so an element's children are listed once and grouped by local name;
 * every later lookup is a Map read. Paths follow XPath: `/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]/PmtId`,
 * with a position on CdtTrfTxInf always and on any other element only when it has same-named siblings.
 */
import { XmlElement, type XmlNode } from 'libxml2-wasm';

/** Elements whose path always carries a position, so that a reason names its transaction unambiguously. */
const ALWAYS_INDEXED = new Set(['CdtTrfTxInf']);

export function elementChildren(element: XmlElement): XmlElement[] {
  const out: XmlElement[] = [];
  for (let node = element.firstChild; node !== null; node = node.next) {
    if (node instanceof XmlElement) out.push(node);
  }
  return out;
}

function stepName(name: string, position: number, siblings: number): string {
  return siblings > 1 || ALWAYS_INDEXED.has(name) ? `${name}[${position}]` : name;
}

export class ElementReader {
  readonly element: XmlElement;
  readonly path: string;
  #children: Map<string, XmlElement[]> | undefined;

  constructor(element: XmlElement, path: string) {
    this.element = element;
    this.path = path;
  }

  static root(element: XmlElement): ElementReader {
    return new ElementReader(element, `/${element.name}`);
  }

  get name(): string {
    return this.element.name;
  }

  #byName(): Map<string, XmlElement[]> {
    if (this.#children === undefined) {
      const map = new Map<string, XmlElement[]>();
      for (const child of elementChildren(this.element)) {
        const name = child.name;
        const list = map.get(name);
        if (list === undefined) map.set(name, [child]);
        else list.push(child);
      }
      this.#children = map;
    }
    return this.#children;
  }

  /** The first child with this local name. */
  one(name: string): ElementReader | undefined {
    const list = this.#byName().get(name);
    const first = list?.[0];
    return first === undefined ? undefined : new ElementReader(first, `${this.path}/${stepName(name, 1, list?.length ?? 1)}`);
  }

  /** Every child with this local name, in document order. */
  all(name: string): ElementReader[] {
    const list = this.#byName().get(name) ?? [];
    return list.map((child, i) => new ElementReader(child, `${this.path}/${stepName(name, i + 1, list.length)}`));
  }

  has(name: string): boolean {
    return this.#byName().has(name);
  }

  /** Text of the first child with this name (exact, untrimmed as the schema types have no whitespace). */
  text(name: string): string | undefined {
    return this.#byName().get(name)?.[0]?.content;
  }

  /** Text of this element. */
  get content(): string {
    return this.element.content;
  }

  attr(name: string): string | undefined {
    return this.element.attr(name)?.value;
  }
}

/**
 * The named path of any element below `root` (the Document or AppHdr element), for schema errors that
 * libxml2 reports against a node.
 */
export function pathOf(node: XmlElement, root: XmlElement): string {
  const steps: string[] = [];
  let current: XmlElement | null = node;
  while (current !== null) {
    const name = current.name;
    if (current.isSameNode(root)) {
      steps.push(name);
      break;
    }
    let position = 1;
    let siblings = 1;
    for (let s = current.prev; s !== null; s = s.prev) {
      if (s instanceof XmlElement && s.name === name) {
        position++;
        siblings++;
      }
    }
    for (let s = current.next; s !== null; s = s.next) {
      if (s instanceof XmlElement && s.name === name) siblings++;
    }
    steps.push(stepName(name, position, siblings));
    current = current.parent;
  }
  return `/${steps.reverse().join('/')}`;
}

/**
 * Resolves the positional XPath libxml2 attaches to its errors (`/*\/*[2]/*[1]`, or `/p:Name[2]` for
 * prefixed elements) to the element it names; `undefined` if it no longer resolves.
 */
export function resolveLibxmlPath(documentRoot: XmlElement, xpath: string): XmlElement | undefined {
  const steps = xpath.split('/').filter((s) => s !== '');
  let current: XmlElement | undefined;
  for (const [i, step] of steps.entries()) {
    const match = /^(?:([^:[\]]+):)?([^[\]]+)(?:\[(\d+)\])?$/.exec(step);
    if (match === null) return undefined;
    const [, , localName = '*', index = '1'] = match;
    const wanted = Number(index);
    if (i === 0) {
      if (localName !== '*' && documentRoot.name !== localName) return undefined;
      current = documentRoot;
      continue;
    }
    if (current === undefined) return undefined;
    let seen = 0;
    let found: XmlElement | undefined;
    for (const child of elementChildren(current)) {
      if (localName === '*' || child.name === localName) {
        seen++;
        if (seen === wanted) {
          found = child;
          break;
        }
      }
    }
    current = found;
  }
  return current;
}

export function isElement(node: XmlNode | null): node is XmlElement {
  return node instanceof XmlElement;
}

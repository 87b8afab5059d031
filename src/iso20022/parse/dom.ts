/**
 * A thin reader over libxml2-wasm elements that tracks the element path as it descends.
 *
 * Paths follow XPath: `/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]/PmtId`, with a position on CdtTrfTxInf
 * always and on any other element only when it has same-named siblings.
 *
 * The reader walks libxml2's tree through node pointers (see libxml2-raw.ts), not through libxml2-wasm's
 * node objects: an element's children are listed once, on first lookup; each distinct element name is decoded
 * once per document; an XmlElement object is created only when a caller asks for one.
 */
import { XmlElement } from 'libxml2-wasm';
import {
  ELEMENT_NODE, NAME, XmlElementAt, attributeOf, contentOf, elementFrom, field, firstChildOf, localNameOf, nextOf, nodeType, parentElementOf, pointerOf, prevOf, stringAt, type NodePtr,
} from './libxml2-raw.ts';

/** Elements whose path always carries a position, so that a reason names its transaction unambiguously. */
const ALWAYS_INDEXED = new Set(['CdtTrfTxInf']);

export function elementChildren(element: XmlElement): XmlElement[] {
  const out: XmlElement[] = [];
  for (let node = elementFrom(firstChildOf(pointerOf(element))); node !== 0; node = elementFrom(nextOf(node))) {
    out.push(new XmlElementAt(node));
  }
  return out;
}

function stepName(name: string, position: number, siblings: number): string {
  return siblings > 1 || ALWAYS_INDEXED.has(name) ? `${name}[${position}]` : name;
}

/**
 * Element names already decoded, by the address of the name string. One map serves every reader of a tree
 * (libxml2 interns a document's names: a pacs.008 has a few dozen distinct ones, whatever its size). It is
 * created with the tree's root reader and shared with its descendants only, never across documents.
 */
type NameCache = Map<number, string>;

function cachedNameOf(node: NodePtr, names: NameCache): string {
  const address = field(node, NAME);
  let name = names.get(address);
  if (name === undefined) {
    name = stringAt(address);
    names.set(address, name);
  }
  return name;
}

export class ElementReader {
  readonly path: string;
  readonly #node: NodePtr;
  readonly #cache: NameCache;
  #element: XmlElement | undefined;
  /** The element children in document order, listed on first lookup: their names, and their nodes. */
  #childNames: string[] | undefined;
  #childNodes: NodePtr[] = [];

  /** `element` is an element, or (inside this module) a node pointer with its tree's name cache. */
  constructor(element: XmlElement | NodePtr, path: string, names: NameCache = new Map()) {
    if (typeof element === 'number') {
      this.#node = element;
    } else {
      this.#node = pointerOf(element);
      this.#element = element;
    }
    this.path = path;
    this.#cache = names;
  }

  static root(element: XmlElement): ElementReader {
    return new ElementReader(element, `/${element.name}`);
  }

  /** The element, as a libxml2-wasm object (created on first use). */
  get element(): XmlElement {
    this.#element ??= new XmlElementAt(this.#node);
    return this.#element;
  }

  get name(): string {
    return cachedNameOf(this.#node, this.#cache);
  }

  /** An element has a few children, looked up a few times each: a scan of an array beats a Map per element. */
  #childList(): string[] {
    if (this.#childNames === undefined) {
      const names: string[] = [];
      const nodes: NodePtr[] = [];
      for (let child = elementFrom(firstChildOf(this.#node)); child !== 0; child = elementFrom(nextOf(child))) {
        names.push(cachedNameOf(child, this.#cache));
        nodes.push(child);
      }
      this.#childNames = names;
      this.#childNodes = nodes;
    }
    return this.#childNames;
  }

  /** The first child named `name`, or 0. */
  #first(name: string): NodePtr {
    const i = this.#childList().indexOf(name);
    return i < 0 ? 0 : (this.#childNodes[i] ?? 0);
  }

  /** The first child with this local name. */
  one(name: string): ElementReader | undefined {
    const names = this.#childList();
    const first = names.indexOf(name);
    if (first < 0) return undefined;
    let siblings = 1;
    for (let i = names.indexOf(name, first + 1); i >= 0; i = names.indexOf(name, i + 1)) siblings++;
    return new ElementReader(this.#childNodes[first] ?? 0, `${this.path}/${stepName(name, 1, siblings)}`, this.#cache);
  }

  /** Every child with this local name, in document order. */
  all(name: string): ElementReader[] {
    const names = this.#childList();
    const nodes: NodePtr[] = [];
    for (let i = names.indexOf(name); i >= 0; i = names.indexOf(name, i + 1)) nodes.push(this.#childNodes[i] ?? 0);
    return nodes.map((node, i) => new ElementReader(node, `${this.path}/${stepName(name, i + 1, nodes.length)}`, this.#cache));
  }

  has(name: string): boolean {
    return this.#first(name) !== 0;
  }

  /** Text of the first child with this name (exact, untrimmed as the schema types have no whitespace). */
  text(name: string): string | undefined {
    const first = this.#first(name);
    return first === 0 ? undefined : contentOf(first);
  }

  /** Text of this element. */
  get content(): string {
    return contentOf(this.#node);
  }

  attr(name: string): string | undefined {
    return attributeOf(this.#node, name);
  }
}

/**
 * The named path of any element below `root` (the Document or AppHdr element), for schema errors that
 * libxml2 reports against a node.
 */
export function pathOf(node: XmlElement, root: XmlElement): string {
  const rootNode = pointerOf(root);
  const steps: string[] = [];
  let current = pointerOf(node);
  while (current !== 0) {
    const name = localNameOf(current);
    if (current === rootNode) {
      steps.push(name);
      break;
    }
    let position = 1;
    let siblings = 1;
    for (let s = prevOf(current); s !== 0; s = prevOf(s)) {
      if (nodeType(s) === ELEMENT_NODE && localNameOf(s) === name) {
        position++;
        siblings++;
      }
    }
    for (let s = nextOf(current); s !== 0; s = nextOf(s)) {
      if (nodeType(s) === ELEMENT_NODE && localNameOf(s) === name) siblings++;
    }
    steps.push(stepName(name, position, siblings));
    current = parentElementOf(current);
  }
  return `/${steps.reverse().join('/')}`;
}

/**
 * Resolves the positional XPath libxml2 attaches to its errors (`/*\/*[2]/*[1]`, or `/p:Name[2]` for
 * prefixed elements) to the element it names; `undefined` if it no longer resolves.
 */
export function resolveLibxmlPath(documentRoot: XmlElement, xpath: string): XmlElement | undefined {
  const rootNode = pointerOf(documentRoot);
  const steps = xpath.split('/').filter((s) => s !== '');
  let current: NodePtr | undefined;
  for (const [i, step] of steps.entries()) {
    const match = /^(?:([^:[\]]+):)?([^[\]]+)(?:\[(\d+)\])?$/.exec(step);
    if (match === null) return undefined;
    const [, , localName = '*', index = '1'] = match;
    const wanted = Number(index);
    if (i === 0) {
      if (localName !== '*' && documentRoot.name !== localName) return undefined;
      current = rootNode;
      continue;
    }
    if (current === undefined) return undefined;
    let seen = 0;
    let found: NodePtr | undefined;
    for (let child = elementFrom(firstChildOf(current)); child !== 0; child = elementFrom(nextOf(child))) {
      if (localName === '*' || localNameOf(child) === localName) {
        seen++;
        if (seen === wanted) {
          found = child;
          break;
        }
      }
    }
    current = found;
  }
  if (current === undefined) return undefined;
  return current === rootNode ? documentRoot : new XmlElementAt(current);
}


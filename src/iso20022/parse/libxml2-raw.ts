/**
 * Raw reads of libxml2's node structs in WebAssembly memory — the only code in the project that does this.
 */
import { XmlDocument, XmlElement, type XmlNode } from 'libxml2-wasm';
// Internal module of libxml2-wasm (pinned to exactly 0.7.2): see below for why and how it is used.
import { XmlNodeSetStruct, xmlNodeGetContent } from 'libxml2-wasm/lib/libxml2.mjs';

// ---------------------------------------------------------------------------------------------------------
// Raw nodes — the only code in the project that reads libxml2's memory directly.
//
// Why: libxml2-wasm's public API creates a wrapper object for every node it hands out (`.firstChild` and
// `.next` each look the node type up and construct an object, text and comment nodes included), decodes the
// name from WebAssembly memory again on every `.name`, and copies every `.content` through malloc/free.
// Reading the model of a 10-transaction pacs.008 that way took ~0.45 ms (bench/parse), more than parsing
// and XSD-validating it together. Reading the same fields of the same structs directly takes a fraction.
//
// How: libxml2-wasm exports no handle on its memory, but `XmlNodeSetStruct.nodeTable` (lib/libxml2.mjs, the
// module its own node classes use, so the same WebAssembly instance) returns a view of it, whose buffer is
// the memory. The struct offsets are the ones lib/libxml2.mjs reads at (XmlTreeCommonStruct, XmlNodeStruct);
// `xmlNodeGetContent` is the library's own call for `.content`, used whenever a node's text is not a single
// text child. The self-check at the end of this section compares these reads with the public API on a small
// document when the module loads, so a libxml2-wasm upgrade that moves anything fails at start-up, loudly,
// instead of reading wrong values. Pointers are valid only while their document is alive, as the library's
// own node objects are.
// ---------------------------------------------------------------------------------------------------------

/** An `xmlNode *` or `xmlAttr *` in libxml2's WebAssembly memory; 0 is NULL. */
export type NodePtr = number;

export const ELEMENT_NODE = 1;
const ATTRIBUTE_NODE = 2;
const TEXT_NODE = 3;

/**
 * Word offsets of the fields of libxml2's `struct _xmlNode` on wasm32 (4-byte pointers): type at byte 4,
 * name 8, children 12, last 16, parent 20, next 24, prev 28, doc 32, ns 36, content 40, properties 44.
 * `struct _xmlAttr` has the same layout up to ns.
 */
const TYPE = 1;
export const NAME = 2;
const CHILDREN = 3;
const LAST = 4;
const PARENT = 5;
const NEXT = 6;
const PREV = 7;
const DOC = 8;
const NS = 9;
const CONTENT = 10;
const PROPERTIES = 11;

/** Views on the WebAssembly memory; taken again after libxml2 grows it (which detaches the old buffer). */
let heap32: Int32Array<ArrayBufferLike> = new Int32Array(0);
let heapU8: Uint8Array<ArrayBufferLike> = new Uint8Array(0);

function words(): Int32Array<ArrayBufferLike> {
  if (heap32.length === 0) {
    const memory = XmlNodeSetStruct.nodeTable(0, 0).buffer;
    heap32 = new Int32Array(memory);
    heapU8 = new Uint8Array(memory);
  }
  return heap32;
}

export function field(node: NodePtr, index: number): number {
  return words()[(node >> 2) + index] ?? 0;
}

const utf8 = new TextDecoder();

const fromCharCode = String.fromCharCode;

/**
 * The NUL-terminated UTF-8 string at `address`, as emscripten's UTF8ToString (which the library uses)
 * returns it. ASCII up to 64 bytes (names, codes, identifiers: almost every value) is decoded here, eight
 * bytes a call, which is about twice as fast as a TextDecoder call for such short strings; the rest goes
 * through TextDecoder.
 */
export function stringAt(address: number): string {
  if (address === 0) return '';
  words();
  const m = heapU8;
  let end = address;
  let ascii = true;
  for (let byte = m[end] ?? 0; byte !== 0; byte = m[++end] ?? 0) {
    if (byte >= 0x80) ascii = false;
  }
  if (!ascii || end - address > 64) return utf8.decode(m.subarray(address, end));
  let out = '';
  let i = address;
  for (; i + 8 <= end; i += 8) {
    out += fromCharCode(m[i] ?? 0, m[i + 1] ?? 0, m[i + 2] ?? 0, m[i + 3] ?? 0, m[i + 4] ?? 0, m[i + 5] ?? 0, m[i + 6] ?? 0, m[i + 7] ?? 0);
  }
  for (; i < end; i++) out += fromCharCode(m[i] ?? 0);
  return out;
}

export const nodeType = (node: NodePtr): number => field(node, TYPE);
export const firstChildOf = (node: NodePtr): NodePtr => field(node, CHILDREN);
export const nextOf = (node: NodePtr): NodePtr => field(node, NEXT);
export const prevOf = (node: NodePtr): NodePtr => field(node, PREV);
/** The local name (libxml2 keeps the prefix with the namespace, not in the name), as `XmlElement.name`. */
export const localNameOf = (node: NodePtr): string => stringAt(field(node, NAME));

/**
 * The concatenated text of an element or attribute, exactly as `.content`: read in place when it is a single
 * text node (a leaf, the usual case), through libxml2's xmlNodeGetContent otherwise (text split by a comment,
 * child elements, no text at all).
 */
export function contentOf(node: NodePtr): string {
  const memory = words();
  const base = node >> 2;
  const child = memory[base + CHILDREN] ?? 0;
  const type = memory[base + TYPE];
  if (child !== 0 && child === memory[base + LAST] && memory[(child >> 2) + TYPE] === TEXT_NODE && (type === ELEMENT_NODE || type === ATTRIBUTE_NODE)) {
    return stringAt(memory[(child >> 2) + CONTENT] ?? 0);
  }
  return xmlNodeGetContent(node);
}

/** The first element at or after `node` in sibling order; 0 when none. */
export function elementFrom(node: NodePtr): NodePtr {
  let current = node;
  while (current !== 0 && nodeType(current) !== ELEMENT_NODE) current = nextOf(current);
  return current;
}

/**
 * The value of the attribute `name` in no namespace, as `XmlElement.attr(name)?.value` (which also consults
 * DTD attribute defaults: there are none, as DOCTYPEs are refused before parsing).
 */
export function attributeOf(element: NodePtr, name: string): string | undefined {
  for (let attribute = field(element, PROPERTIES); attribute !== 0; attribute = nextOf(attribute)) {
    if (field(attribute, NS) === 0 && localNameOf(attribute) === name) return contentOf(attribute);
  }
  return undefined;
}

/** The parent element, or 0 at the root element (where `XmlNode.parent` is null). */
export function parentElementOf(node: NodePtr): NodePtr {
  const parent = field(node, PARENT);
  return parent === 0 || parent === field(node, DOC) ? 0 : parent;
}

export function pointerOf(node: XmlNode): NodePtr {
  return (node as unknown as { _nodePtr: NodePtr })._nodePtr;
}

/** The library's object for an element pointer (what its `createNode` builds for an element node). */
export const XmlElementAt = XmlElement as unknown as new (node: NodePtr) => XmlElement;

/** Compares the raw reads above with libxml2-wasm's public API; throws if they ever disagree. */
function selfCheck(): void {
  const sample = '<r xmlns="urn:x" xmlns:p="urn:p"><a Ccy="EUR" p:Ccy="x">1.5</a><!--c--><b>t<!--c-->u</b>'
    + '<a>d&amp;&#233;&#x1F600; ok</a><p:a/><a>the quick brown fox jumps over the lazy dog</a><c><a>x</a></c></r>';
  const document = XmlDocument.fromString(sample);
  try {
    const root = document.root;
    const expected: XmlElement[] = [];
    for (let node = root.firstChild; node !== null; node = node.next) if (node instanceof XmlElement) expected.push(node);
    const actual: NodePtr[] = [];
    for (let node = elementFrom(firstChildOf(pointerOf(root))); node !== 0; node = elementFrom(nextOf(node))) actual.push(node);
    const agrees = actual.length === expected.length && expected.every((element, i) => {
      const node = actual[i] ?? 0;
      const previous = element.prev;
      return node === pointerOf(element)
        && localNameOf(node) === element.name
        && contentOf(node) === element.content
        && attributeOf(node, 'Ccy') === (element.attr('Ccy')?.value ?? undefined)
        && parentElementOf(node) === pointerOf(root)
        && prevOf(node) === (previous === null ? 0 : pointerOf(previous));
    });
    if (!agrees || parentElementOf(pointerOf(root)) !== 0 || localNameOf(pointerOf(root)) !== root.name) {
      throw new Error('libxml2-wasm node internals are not what src/iso20022/parse/dom.ts reads (written for 0.7.2)');
    }
  } finally {
    document.dispose();
  }
}
selfCheck();

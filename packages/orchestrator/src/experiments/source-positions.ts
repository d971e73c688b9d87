import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  visit,
} from 'yaml';

/** A path into a parsed document, as zod reports it: mapping keys and list indexes. */
export type DocumentPath = readonly PropertyKey[];

/** A 1-based line and column. */
export interface SourcePosition {
  line: number;
  column: number;
}

/** Where a path lands in the YAML source. */
export interface LocatedNode {
  /** The deepest node the path reaches; undefined only for an empty document. */
  node: Node | undefined;
  /** The key node of the last mapping entry the path went through, when the path ends on one. */
  key: Node | undefined;
  /** How many segments of the path were found; less than `path.length` when it runs off the document. */
  depth: number;
}

const IDENTIFIER_RE = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Renders a path the way users read it: `spec.faults[1].type`, `metadata.labels["app.kubernetes.io/name"]`. */
export function renderPath(path: DocumentPath): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else {
      const key = String(segment);
      if (IDENTIFIER_RE.test(key)) text += text === '' ? key : `.${key}`;
      else text += `[${JSON.stringify(key)}]`;
    }
  }
  return text;
}

export function positionAt(lineCounter: LineCounter, offset: number): SourcePosition {
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

function resolveAlias(doc: Document, node: unknown): unknown {
  // An alias stands for its anchor's content; walking through it lands on the anchored nodes.
  return isAlias(node) ? node.resolve(doc) : node;
}

function isEmptyScalar(node: Node): boolean {
  return isScalar(node) && node.range !== undefined && node.range !== null && node.range[0] === node.range[1];
}

/** Follows `path` through the document's nodes, stopping at the deepest one that exists. */
export function locatePath(doc: Document, path: DocumentPath): LocatedNode {
  let node = resolveAlias(doc, doc.contents) as Node | null | undefined;
  let key: Node | undefined;
  let depth = 0;
  for (const segment of path) {
    if (!node) break;
    let next: unknown;
    let nextKey: Node | undefined;
    if (isMap(node) && typeof segment !== 'symbol') {
      // toJS turns every key into a string, so compare as strings (`1:` matches "1").
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (pair === undefined) break;
      next = pair.value;
      nextKey = pair.key as Node;
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment];
      if (next === undefined) break;
    } else {
      break;
    }
    depth += 1;
    key = nextKey;
    const resolved = resolveAlias(doc, next) as Node | null | undefined;
    // `key:` with nothing after it has no value in the source; the key then stands for the value.
    if (!resolved || isEmptyScalar(resolved)) {
      node = nextKey ?? resolved ?? node;
      break;
    }
    node = resolved;
  }
  return { node: node ?? undefined, key: depth === path.length ? key : undefined, depth };
}

/** The path of the mapping that holds the key starting at `offset` (for yaml's duplicate-key errors). */
export function findKeyAt(doc: Document, offset: number): { path: PropertyKey[]; key: string } | undefined {
  let found: { path: PropertyKey[]; key: string } | undefined;
  visit(doc, {
    Pair(_, pair, ancestors) {
      if (!isScalar(pair.key) || pair.key.range?.[0] !== offset) return undefined;
      const path: PropertyKey[] = [];
      ancestors.forEach((ancestor, index) => {
        if (isPair(ancestor) && isScalar(ancestor.key)) path.push(String(ancestor.key.value));
        else if (isSeq(ancestor)) path.push(ancestor.items.indexOf(ancestors[index + 1] ?? pair));
      });
      found = { path, key: String(pair.key.value) };
      return visit.BREAK;
    },
  });
  return found;
}

import type { KubeObject } from './store.js';

/*
 * Label and field selectors as the API reference defines them:
 * `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, joined by
 * commas; field selectors take `=`, `==` and `!=` on the fields each kind
 * supports (here: metadata.name, metadata.namespace, status.phase,
 * spec.nodeName, involvedObject.*).
 */

type Test = (labels: Record<string, string>) => boolean;

export class SelectorError extends Error {}

export function labelMatcher(text: string | null): Test {
  if (!text) return () => true;
  const tests = splitTerms(text).map(labelTerm);
  return (labels) => tests.every((t) => t(labels));
}

function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) terms.push(current.trim());
  return terms;
}

function labelTerm(term: string): Test {
  let m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (m) {
    const [, k, op, list] = m as unknown as [string, string, string, string];
    const values = list.split(',').map((v) => v.trim());
    return op === 'in' ? (l) => l[k] !== undefined && values.includes(l[k]) : (l) => l[k] === undefined || !values.includes(l[k]);
  }
  m = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s,]*)$/.exec(term);
  if (m) {
    const [, k, op, v] = m as unknown as [string, string, string, string];
    return op === '!=' ? (l) => l[k] !== v : (l) => l[k] === v;
  }
  m = /^(!?)([^\s!=]+)$/.exec(term);
  if (m) return m[1] ? (l) => l[m[2] as string] === undefined : (l) => l[m[2] as string] !== undefined;
  throw new SelectorError(`unable to parse requirement: ${term}`);
}

export function fieldMatcher(text: string | null): (object: KubeObject) => boolean {
  if (!text) return () => true;
  const tests = splitTerms(text).map((term) => {
    const m = /^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new SelectorError(`invalid field selector: ${term}`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    return (o: KubeObject) => {
      const actual = String(path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o) ?? '');
      return op === '!=' ? actual !== value : actual === value;
    };
  });
  return (o) => tests.every((t) => t(o));
}

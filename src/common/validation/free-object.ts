export interface FreeObjectProblem {
  path: string;
  issue: string;
}

const MAX_DEPTH = 8;

// Free-form objects (metadata, provider_options) are stored as given, so keys that MongoDB would read
// as operators or paths are refused, and so are prototype-polluting keys.
export function checkFreeObject(value: Record<string, unknown>, field: string, maxBytes: number): FreeObjectProblem | null {
  const size = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (size > maxBytes) return { path: field, issue: `${field} is ${size} bytes; the limit is ${maxBytes} bytes of JSON` };
  const walk = (node: unknown, path: string, depth: number): FreeObjectProblem | null => {
    if (depth > MAX_DEPTH) return { path, issue: `${field} nests deeper than ${MAX_DEPTH} levels` };
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const p = walk(node[i], `${path}[${i}]`, depth + 1);
        if (p) return p;
      }
      return null;
    }
    if (node !== null && typeof node === 'object') {
      for (const key of Object.keys(node)) {
        if (key.startsWith('$') || key.includes('.') || key === '__proto__' || key === 'constructor' || key === 'prototype' || key.length === 0) {
          return { path: `${path}.${key}`, issue: `key "${key}" is not allowed (no leading $, no dots, no prototype keys)` };
        }
        const p = walk((node as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
        if (p) return p;
      }
    }
    return null;
  };
  return walk(value, field, 0);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Splits a JSON document into the elements of its first array ([...] or {"contacts": [...]}) as they
// arrive, so a 100,000-row body is never held in memory at once.
export async function* jsonArrayElements(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<unknown> {
  let depth = 0;
  let arrayDepth = -1;
  let inString = false;
  let escaped = false;
  let element: string[] = [];
  let elementStart = -1;
  let finished = false;
  for await (const raw of chunks) {
    const text = typeof raw === 'string' ? raw : raw.toString('utf8');
    if (finished) {
      if (text.trim()) throw new SyntaxError('Unexpected data after the array');
      continue;
    }
    elementStart = arrayDepth >= 0 && depth > arrayDepth ? 0 : -1;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (ch === '\\') escaped = true;
        else if (ch === '"') inString = false;
        continue;
      }
      if (ch === '"') {
        inString = true;
        if (arrayDepth >= 0 && depth === arrayDepth) throw new SyntaxError('Each element must be a JSON object');
        continue;
      }
      if (ch === '{' || ch === '[') {
        if (arrayDepth >= 0 && depth === arrayDepth) {
          if (ch === '[') throw new SyntaxError('Each element must be a JSON object');
          elementStart = i;
        }
        depth++;
        if (ch === '[' && arrayDepth < 0) arrayDepth = depth;
      } else if (ch === '}' || ch === ']') {
        depth--;
        if (depth < 0) throw new SyntaxError('Unbalanced JSON');
        if (arrayDepth >= 0 && depth === arrayDepth && ch === '}') {
          element.push(text.slice(elementStart, i + 1));
          const json = element.join('');
          element = [];
          elementStart = -1;
          yield JSON.parse(json);
        } else if (depth === arrayDepth - 1 && ch === ']') {
          arrayDepth = -2;
        }
        if (depth === 0 && arrayDepth === -2) {
          finished = true;
          if (text.slice(i + 1).trim()) throw new SyntaxError('Unexpected data after the array');
          break;
        }
      } else if (arrayDepth >= 0 && depth === arrayDepth && !/[\s,]/.test(ch)) {
        throw new SyntaxError('Each element must be a JSON object');
      }
    }
    if (elementStart >= 0) element.push(text.slice(elementStart));
  }
  if (!finished) throw new SyntaxError(arrayDepth === -1 ? 'No JSON array found' : 'Unexpected end of JSON input');
}

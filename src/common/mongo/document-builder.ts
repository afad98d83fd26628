import { Schema, SchemaType, Types } from 'mongoose';

// The stored form of a new document, as `new Model(fields)`, `validate()` and `toBSON()` give it, built
// straight from the schema's paths when every field already holds its schema type: the hot-path inserts
// (claims, decisions, logs, events, gates) are built by the service itself, and mongoose's document
// machinery cost about 230 µs of the service's CPU per document, a sixth to a fifth of a dial's and of
// a `POST /schedule/`'s. A field it does not vouch for (a string for a Date, a missing required field, a value
// outside its enum, a path with a custom validator or setter) returns undefined, and the caller takes the
// mongoose way, which casts it or refuses it with mongoose's own error. `document-builder.spec.ts` holds it
// to mongoose's output for every schema built this way.
export type DocumentBuilder = (fields: Record<string, unknown>) => Record<string, unknown> | undefined;

const SLOW = Symbol('slow');
type PathBuild = (value: unknown) => unknown;

interface PathPlan {
  name: string;
  build: PathBuild;
  required: boolean;
  // Called when the field is absent: the schema's default (cast), or undefined (the field stays absent).
  fallback: (() => unknown) | null;
  autoId: boolean;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// Mixed values are copied, as toBSON copies them: the stored document shares nothing with the caller's.
function copy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copy);
  if (value instanceof Date) return new Date(value.getTime());
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = copy(v);
    return out;
  }
  return value;
}

// mongoose's minimize: empty plain objects (after their own minimizing) and undefined values are dropped.
function minimize(obj: Record<string, unknown>): Record<string, unknown> | undefined {
  let hasKeys = false;
  for (const key of Object.keys(obj)) {
    if (isPlainObject(obj[key])) obj[key] = minimize(obj[key] as Record<string, unknown>);
    if (obj[key] === undefined) delete obj[key];
    else hasKeys = true;
  }
  return hasKeys ? obj : undefined;
}

const primitive: Record<string, (v: unknown) => boolean> = {
  String: (v) => typeof v === 'string',
  Number: (v) => typeof v === 'number' && Number.isFinite(v),
  Boolean: (v) => typeof v === 'boolean',
  Date: (v) => v instanceof Date && !Number.isNaN(v.getTime()),
  ObjectId: (v) => v instanceof Types.ObjectId,
};

// mongoose's `required` for each type: an empty string is missing, as is null.
function present(value: unknown): boolean {
  return value !== null && value !== undefined && value !== '';
}

function arrayOf(element: PathBuild): PathBuild {
  return (v) => {
    if (v === null) return null;
    if (!Array.isArray(v)) return SLOW;
    const out: unknown[] = [];
    for (const item of v) {
      const built = element(item);
      if (built === SLOW) return SLOW;
      out.push(built);
    }
    return out;
  };
}

function pathBuild(type: SchemaType, name: string): PathBuild | null {
  const t = type as SchemaType & {
    instance: string;
    enumValues?: unknown[];
    validators: Array<{ type?: string }>;
    setters: unknown[];
    schema?: Schema;
    embeddedSchemaType?: SchemaType;
    $isSingleNested?: boolean;
    $isMongooseDocumentArray?: boolean;
  };
  if (t.validators.some((v) => v.type !== 'required' && v.type !== 'enum')) return null;
  // The ObjectId _id carries mongoose's own setter, which only casts.
  if (t.setters.length > 0 && name !== '_id') return null;
  const enumValues = t.enumValues && t.enumValues.length > 0 ? new Set(t.enumValues) : null;
  // An enum this builder cannot read (on a type without enumValues) is left to mongoose.
  if (!enumValues && t.validators.some((v) => v.type === 'enum')) return null;
  const check = primitive[t.instance];
  if (check) {
    return (v) => (v === null ? null : check(v) && (!enumValues || enumValues.has(v)) ? v : SLOW);
  }
  if (t.instance === 'Mixed') return (v) => copy(v);
  if (t.$isSingleNested && t.schema) {
    const sub = compileDocumentBuilder(t.schema, { nested: true });
    if (!sub) return null;
    return (v) => (v === null ? null : isPlainObject(v) ? (sub(v) ?? SLOW) : SLOW);
  }
  if (t.$isMongooseDocumentArray && t.schema) {
    const sub = compileDocumentBuilder(t.schema, { nested: true });
    if (!sub) return null;
    return arrayOf((item) => (isPlainObject(item) ? (sub(item) ?? SLOW) : SLOW));
  }
  if (t.instance === 'Array' && t.embeddedSchemaType) {
    const element = pathBuild(t.embeddedSchemaType, `${name}.$`);
    if (!element) return null;
    return arrayOf((item) => (item === null ? SLOW : element(item)));
  }
  return null;
}

// null: the schema has a feature this builder does not reproduce (nested plain paths, version key,
// timestamps, discriminators, non-strict mode, custom validators or setters); its documents always take
// the mongoose way.
export function compileDocumentBuilder(schema: Schema, { nested = false } = {}): DocumentBuilder | null {
  const options = schema.options as { strict?: unknown; versionKey?: unknown; timestamps?: unknown; minimize?: unknown };
  if (options.strict !== undefined && options.strict !== true) return null;
  if (!nested && options.versionKey !== false) return null;
  if (options.timestamps) return null;
  if ((schema as Schema & { discriminators?: unknown }).discriminators) return null;
  const plans: PathPlan[] = [];
  for (const [name, type] of Object.entries(schema.paths)) {
    if (name.includes('.')) return null;
    const build = pathBuild(type, name);
    if (!build) return null;
    const t = type as SchemaType & { isRequired?: boolean; defaultValue?: unknown; getDefault: (scope: unknown, init: boolean) => unknown; options: { auto?: boolean } };
    const autoId = name === '_id' && t.options.auto === true;
    const fallback = t.defaultValue === undefined ? null : () => t.getDefault(null, false);
    plans.push({ name, build, required: t.isRequired === true, fallback, autoId });
  }
  const minimizing = !nested && options.minimize !== false;
  return (fields) => {
    const out: Record<string, unknown> = {};
    for (const { name, build, required, fallback, autoId } of plans) {
      const given = fields[name];
      // A default comes cast, and a default object or array is a fresh one each time.
      const value = given !== undefined ? given : autoId ? new Types.ObjectId() : fallback ? fallback() : undefined;
      if (required && !present(value)) return undefined;
      if (value === undefined) continue;
      const built = given !== undefined ? build(given) : value;
      if (built === SLOW) return undefined;
      out[name] = built;
    }
    return minimizing ? (minimize(out) ?? {}) : out;
  };
}

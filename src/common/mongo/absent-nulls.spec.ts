import { Schema } from 'mongoose';
import { nullFiller, updateWithoutNulls, withoutNulls } from './absent-nulls';

describe('absent nulls', () => {
  it('leaves top-level nulls out of a document, and nothing else', () => {
    const nested = { a: null };
    expect(withoutNulls({ _id: 1, a: null, b: 0, c: '', d: false, e: nested, f: undefined })).toEqual({ _id: 1, b: 0, c: '', d: false, e: nested, f: undefined });
  });

  it('fills the schema paths a document lacks with null, keeping what it has and fields outside the schema', () => {
    const fill = nullFiller<Record<string, unknown>>(new Schema({ a: String, b: { type: Number, default: null }, c: new Schema({ x: String }) }));
    expect(fill({ _id: 'k', a: 'x', extra: 1 })).toEqual({ _id: 'k', a: 'x', b: null, c: null, extra: 1 });
    expect(fill({ _id: 'k', a: null, b: 0 })).toEqual({ _id: 'k', a: null, b: 0, c: null });
  });

  it('turns a change into $set for its values and $unset for its nulls', () => {
    expect(updateWithoutNulls({ a: 1, b: null, c: 'x' })).toEqual({ $set: { a: 1, c: 'x' }, $unset: { b: '' } });
    expect(updateWithoutNulls({ a: 1 })).toEqual({ $set: { a: 1 } });
    expect(updateWithoutNulls({ b: null })).toEqual({ $unset: { b: '' } });
  });
});

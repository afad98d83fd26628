import { Schema } from 'mongoose';
import { CallScheduleSchema } from '../../schedule/schemas/call-schedule.schema';
import { CallLogArchiveSchema, CallLogSchema } from '../../tracking/schemas/call-log.schema';
import { EQUALITY_INDEXES } from './ferretdb-server';

// The launcher's trigger finds a collection's table by its name and indexes each key as written into its SQL:
// a collection or field renamed in its schema would silently lose the index, and a name that is not plain
// would not be SQL.
describe('EQUALITY_INDEXES', () => {
  const schemas: Record<string, Schema> = { call_schedules: CallScheduleSchema, call_logs: CallLogSchema, call_logs_archive: CallLogArchiveSchema };

  it('lists fields the collections have, by plain names', () => {
    expect(Object.keys(EQUALITY_INDEXES).sort()).toEqual(Object.keys(schemas).sort());
    for (const [collection, keys] of Object.entries(EQUALITY_INDEXES)) {
      expect(collection).toMatch(/^[a-z][a-z0-9_]*$/);
      for (const key of keys) {
        expect(key).toMatch(/^[a-z][a-z0-9_]*$/);
        expect(schemas[collection].path(key)).toBeDefined();
      }
    }
    expect(CallScheduleSchema.get('collection')).toBe('call_schedules');
    expect(CallLogSchema.get('collection')).toBe('call_logs');
  });
});

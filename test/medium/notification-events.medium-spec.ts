import { getConnectionToken, MongooseModule } from '@nestjs/mongoose';
import type { CommandStartedEvent } from 'mongodb';
import type { Connection } from 'mongoose';
import { NotificationEventRepository } from '../../src/notification/notification-event.repository';
import { NotificationEventDoc, NotificationEventKeyDoc, NotificationEventKeySchema, NotificationEventSchema } from '../../src/notification/schemas/notification-event.schema';
import { createMediumModule, MediumModule } from '../utils/medium-app';
import { testDatabaseUri } from '../utils/test-config';

// Every domain event is recorded here for the SSE history: appends made together share one ordered insert.
describe('notification event history (repository, real database)', () => {
  let t: MediumModule;
  let inserts = 0;

  beforeAll(async () => {
    const uri = new URL(testDatabaseUri());
    uri.searchParams.set('monitorCommands', 'true');
    t = await createMediumModule({
      env: { MONGODB_URI: uri.toString() },
      imports: [
        MongooseModule.forFeature([
          { name: NotificationEventDoc.name, schema: NotificationEventSchema },
          { name: NotificationEventKeyDoc.name, schema: NotificationEventKeySchema },
        ]),
      ],
      providers: [NotificationEventRepository],
    });
    await t.get<NotificationEventRepository>(NotificationEventRepository).ensureIndexes();
    t.get<Connection>(getConnectionToken())
      .getClient()
      .on('commandStarted', (e: CommandStartedEvent) => {
        if (e.commandName === 'insert' && e.command.insert === 'notification_events') inserts++;
      });
  });
  afterAll(() => t.close());

  it('stores 200 events appended at once with a few inserts, in publish order, each resolving to its stored id', async () => {
    const events = t.get<NotificationEventRepository>(NotificationEventRepository);
    const at = new Date();
    const stored = await Promise.all(
      Array.from({ length: 200 }, (_, i) => events.append({ tenant_id: 'batch', type: 'call.completed', created_at: at, data: { n: i } })),
    );
    expect(inserts).toBeLessThanOrEqual(2);
    // Ids follow publish order, and the history reads back in that order, all of it.
    expect([...stored.map((s) => s.id)].sort()).toEqual(stored.map((s) => s.id));
    const history = await events.listAfter({ tenantId: 'batch', allTenants: false }, '000000000000000000000000', 500);
    expect(history.map((e) => e.data.n)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(history.map((e) => e.id)).toEqual(stored.map((s) => s.id));

    // One more later on is a write of its own.
    const before = inserts;
    const last = await events.append({ tenant_id: 'batch', type: 'call.failed', created_at: at, data: { n: 200 } });
    expect(inserts).toBe(before + 1);
    expect((await events.listAfter({ tenantId: 'batch', allTenants: false }, stored[199].id, 10)).map((e) => e.id)).toEqual([last.id]);
  });

  // The key is the only lock: the stand-in applies no update atomically, but refuses all but one insert of a key.
  it('stores an event appended once under one key by 20 concurrent writers exactly once, and each gets its id', async () => {
    const events = t.get<NotificationEventRepository>(NotificationEventRepository);
    const at = new Date();
    const stored = await Promise.all(
      Array.from({ length: 20 }, (_, i) => events.appendOnce('call_final|once-1', { tenant_id: 'once', type: 'call.completed', created_at: at, data: { writer: i } })),
    );
    const history = await events.listAfter({ tenantId: 'once', allTenants: false }, '000000000000000000000000', 50);
    expect(history).toHaveLength(1);
    expect(new Set(stored.map((s) => s.id))).toEqual(new Set([history[0].id]));

    // A later repeat, as the outcome sweep makes after a crash, gets the same stored event.
    const again = await events.appendOnce('call_final|once-1', { tenant_id: 'once', type: 'call.completed', created_at: new Date(), data: { writer: 'sweep' } });
    expect(again).toMatchObject({ id: history[0].id, data: history[0].data });
    expect(await events.listAfter({ tenantId: 'once', allTenants: false }, '000000000000000000000000', 50)).toHaveLength(1);
  });
});

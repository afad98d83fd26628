import { dropPostgresDatabase } from '../../src/database/embedded/ferretdb-server';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as { __TEST_DB__?: { db: { stop(): Promise<void> }; postgresqlUrl?: string } }).__TEST_DB__;
  if (!state) return;
  await state.db.stop();
  if (state.postgresqlUrl) await dropPostgresDatabase(state.postgresqlUrl);
}

import { Injectable } from '@nestjs/common';
import { ConcurrencyLimit } from '../common/concurrency-limit';
import { Batcher } from '../common/mongo/insert-batcher';
import { DncRepository } from './dnc.repository';

// A tenant's list is held in memory up to this many numbers; a longer one is looked up number by number.
const MAX_NUMBERS_PER_TENANT = 50_000;
// All tenants' copies together (about 70 MB of strings and set entries); the oldest copies go first.
const MAX_NUMBERS_HELD = 1_000_000;
// A copy is read again after this long even if its version still holds: entries written by a process that
// writes no versions (an older release during a rolling upgrade) are seen within it.
const MAX_COPY_AGE_MS = 60_000;
// Lists read at once (after a restart every active tenant's first check reads one).
const LOADS_AT_ONCE = 4;

interface ListCopy {
  version: string;
  // null: too long to hold; each check looks its number up.
  phones: Set<string> | null;
  // performance.now() when it was read.
  readAt: number;
}

// The dial-time do-not-call check without a lookup per dial. Each instance holds a copy of a tenant's
// list, made under the list's version (DncVersionDoc), and reads the version before it trusts the copy. A
// check joins the next version read, never one already in flight, so it sees every change whose writer
// had returned before the check began, as a lookup of its own would; the checks waiting meanwhile share
// that read (one command per round trip in a burst, where each was a lookup scanning the list's collection
// on the stand-in database).
@Injectable()
export class DncListCache {
  // In the order they were read, oldest first.
  private readonly copies = new Map<string, ListCopy>();
  private held = 0;
  private readonly loading = new Map<string, Promise<ListCopy>>();
  private readonly creatingVersions = new Map<string, Promise<void>>();
  private readonly loads = new ConcurrencyLimit(LOADS_AT_ONCE);
  private readonly versionReads: Batcher<string, string | null>;

  constructor(private readonly entries: DncRepository) {
    this.versionReads = new Batcher<string, string | null>(async (tenants) => {
      const versions = await this.entries.versionsOf([...new Set(tenants)]);
      return tenants.map((t) => ({ value: versions.get(t) ?? null }));
    }, 0);
  }

  async isListed(tenantId: string, e164: string): Promise<boolean> {
    let version = await this.versionReads.add(tenantId);
    if (version === null) {
      await this.versionCreated(tenantId);
      version = await this.versionReads.add(tenantId);
      if (version === null) return this.entries.exists(tenantId, e164);
    }
    const copy = await this.copyAt(tenantId, version);
    return copy.phones ? copy.phones.has(e164) : this.entries.exists(tenantId, e164);
  }

  // A tenant's first checks all find no version, a burst's dozens of them at once: they share one insert.
  private versionCreated(tenantId: string): Promise<void> {
    let creating = this.creatingVersions.get(tenantId);
    if (!creating) {
      creating = this.entries.createVersionIfAbsent(tenantId).finally(() => this.creatingVersions.delete(tenantId));
      this.creatingVersions.set(tenantId, creating);
    }
    return creating;
  }

  // The list as of `version`: read after the version, so it holds at least every change before it (a
  // change made meanwhile writes a newer version, and the next check reads the list again).
  private async copyAt(tenantId: string, version: string): Promise<ListCopy> {
    const held = this.copies.get(tenantId);
    // A list too long to hold is not read again until its version changes: its checks look numbers up.
    if (held?.version === version && (held.phones === null || performance.now() - held.readAt < MAX_COPY_AGE_MS)) return held;
    const key = `${tenantId}\n${version}`;
    let load = this.loading.get(key);
    if (!load) {
      load = this.loads
        .run(async () => {
          const readAt = performance.now();
          const phones = await this.entries.phonesOf(tenantId, MAX_NUMBERS_PER_TENANT + 1);
          return { version, phones: phones.length > MAX_NUMBERS_PER_TENANT ? null : new Set(phones), readAt };
        })
        .then((copy) => {
          this.keep(tenantId, copy);
          return copy;
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, load);
    }
    return load;
  }

  private keep(tenantId: string, copy: ListCopy): void {
    this.drop(tenantId);
    this.copies.set(tenantId, copy);
    this.held += copy.phones?.size ?? 0;
    for (const oldest of this.copies.keys()) {
      if (this.held <= MAX_NUMBERS_HELD) break;
      this.drop(oldest);
    }
  }

  private drop(tenantId: string): void {
    const copy = this.copies.get(tenantId);
    if (!copy) return;
    this.held -= copy.phones?.size ?? 0;
    this.copies.delete(tenantId);
  }
}

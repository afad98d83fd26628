import { Injectable } from '@nestjs/common';
import { Batcher } from '../common/mongo/insert-batcher';
import { DncRepository } from './dnc.repository';

// A tenant's list is held in memory up to this many numbers; a longer one is looked up number by number.
const MAX_CACHED_NUMBERS = 50_000;
// Tenants whose lists are held at once; the oldest copy goes first.
const MAX_CACHED_TENANTS = 1_000;
// A copy is read again after this long even if its version still holds: entries written by a process that
// writes no versions (an older release during a rolling upgrade) are seen within it.
const MAX_COPY_AGE_MS = 60_000;

interface ListCopy {
  version: string;
  // null: too long to hold.
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
  private readonly copies = new Map<string, ListCopy>();
  private readonly loading = new Map<string, Promise<ListCopy>>();
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
      await this.entries.createVersionIfAbsent(tenantId);
      version = await this.versionReads.add(tenantId);
      if (version === null) return this.entries.exists(tenantId, e164);
    }
    const copy = await this.copyAt(tenantId, version);
    return copy.phones ? copy.phones.has(e164) : this.entries.exists(tenantId, e164);
  }

  // The list as of `version`: read after the version, so it holds at least every change before it (a
  // change made meanwhile writes a newer version, and the next check reads the list again).
  private async copyAt(tenantId: string, version: string): Promise<ListCopy> {
    const held = this.copies.get(tenantId);
    if (held?.version === version && performance.now() - held.readAt < MAX_COPY_AGE_MS) return held;
    const key = `${tenantId}\n${version}`;
    let load = this.loading.get(key);
    if (!load) {
      const readAt = performance.now();
      load = this.entries
        .phonesOf(tenantId, MAX_CACHED_NUMBERS + 1)
        .then((phones) => {
          const copy = { version, phones: phones.length > MAX_CACHED_NUMBERS ? null : new Set(phones), readAt };
          this.copies.delete(tenantId);
          this.copies.set(tenantId, copy);
          if (this.copies.size > MAX_CACHED_TENANTS) this.copies.delete(this.copies.keys().next().value as string);
          return copy;
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, load);
    }
    return load;
  }
}

import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { op } from '../../common/mongo/mongo-query';
import { duplicateIndexes } from '../../common/mongo/write-errors';
import { DialSlotDoc } from '../schemas/dial-slot.schema';

@Injectable()
export class DialSlotRepository {
  constructor(@InjectModel(DialSlotDoc.name) private readonly slots: Model<DialSlotDoc>) {}

  // Consecutive slots in one unordered insert: each one is won by exactly one instance (its unique _id), and
  // the ones another instance holds come back as duplicates. Returns the slot numbers won.
  async reserveSlots(key: string, slots: Array<{ slot: number; at: Date }>, holder: string): Promise<Set<number>> {
    const won = new Set(slots.map((s) => s.slot));
    try {
      await this.slots.collection.insertMany(
        slots.map(({ slot, at }) => ({ _id: `${key}:${slot}` as unknown as never, key, slot, at, holder })),
        { ordered: false },
      );
    } catch (error) {
      const refused = duplicateIndexes(error);
      if (!refused) throw error;
      for (const index of refused) won.delete(slots[index].slot);
    }
    return won;
  }

  // The start of the newest slot taken for the key. By time, not by number: instances that cut time into
  // slots of another width (CALLS_PER_SECOND or CALLS_RATE_HEADROOM_PERCENT changed) number them otherwise.
  async latestSlotTime(key: string): Promise<Date | null> {
    const doc = await this.slots.findOne({ key }, { at: 1 }).sort({ at: -1 }).lean<{ at: Date }>();
    return doc ? doc.at : null;
  }

  async pruneBefore(before: Date): Promise<number> {
    const res = await this.slots.deleteMany({ at: op({ $lt: before }) });
    return res.deletedCount;
  }
}

import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { insertedUnlessDuplicate, op } from '../../common/mongo/mongo-query';
import { DialSlotDoc } from '../schemas/dial-slot.schema';

@Injectable()
export class DialSlotRepository {
  constructor(@InjectModel(DialSlotDoc.name) private readonly slots: Model<DialSlotDoc>) {}

  async reserveSlot(key: string, slot: number, at: Date, holder: string): Promise<boolean> {
    return insertedUnlessDuplicate(() => this.slots.create({ _id: `${key}:${slot}`, key, slot, at, holder }));
  }

  async latestSlot(key: string): Promise<number | null> {
    const doc = await this.slots.findOne({ key }, { slot: 1 }).sort({ slot: -1 }).lean<{ slot: number }>();
    return doc ? doc.slot : null;
  }

  async pruneBefore(before: Date): Promise<number> {
    const res = await this.slots.deleteMany({ at: op({ $lt: before }) });
    return res.deletedCount;
  }
}

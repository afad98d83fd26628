import { IsMongoId } from 'class-validator';

export class DispatchJobPayload {
  @IsMongoId()
  schedule_id: string;
}

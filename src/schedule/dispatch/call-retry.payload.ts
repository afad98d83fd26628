import { IsInt, IsISO8601, IsMongoId, Max, Min } from 'class-validator';

export class CallRetryPayload {
  @IsMongoId()
  schedule_id: string;

  @IsISO8601({ strict: true })
  occurrence_at: string;

  @IsInt()
  @Min(2)
  @Max(10)
  attempt_number: number;
}

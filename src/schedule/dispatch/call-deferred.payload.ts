import { IsInt, IsISO8601, IsMongoId, Max, Min } from 'class-validator';

export class CallDeferredPayload {
  @IsMongoId()
  schedule_id: string;

  @IsISO8601({ strict: true })
  occurrence_at: string;

  @IsInt()
  @Min(1)
  @Max(10)
  attempt_number: number;

  // The claim number of this run: one more than the run that deferred it.
  @IsInt()
  @Min(1)
  @Max(10_000)
  deferral: number;

  // The window opening it was deferred to; a run woken before it waits instead of deferring again.
  @IsISO8601({ strict: true })
  run_at: string;
}

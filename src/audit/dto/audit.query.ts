import { IsIn, IsISO8601, IsOptional, IsString, MaxLength } from 'class-validator';
import { PageQuery } from '../../common/dto/page.query';
import { AUDIT_OUTCOMES, AuditOutcome } from '../audit.types';

export class AuditQuery extends PageQuery {
  /** The token's `sub` that made the call. */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  actor?: string;

  /** Tenant the actor acted for. */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  tenant_id?: string;

  /** What was done, e.g. `schedule.pause` (`<controller>.<handler>`). */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  action?: string;

  /** Id of the record acted on (path id, or the id a create returned). */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  target_id?: string;

  @IsOptional()
  @IsIn(AUDIT_OUTCOMES)
  outcome?: AuditOutcome;

  /** ISO 8601 lower bound on the entry time (inclusive). */
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  /** ISO 8601 upper bound on the entry time (inclusive). */
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

import { PickType } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { PageQuery } from '../../common/dto/page.query';
import { TASK_STATUSES, TaskStatus } from '../task-status';

// Seed 000's list takes a status and a limit, no offset.
export class ListTasksQuery extends PickType(PageQuery, ['limit'] as const) {
  @IsOptional()
  @IsIn(TASK_STATUSES, { message: `status must be one of ${TASK_STATUSES.join(', ')}` })
  status?: TaskStatus;
}

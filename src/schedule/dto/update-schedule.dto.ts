import { PartialType } from '@nestjs/swagger';
import { CreateScheduleDto } from './create-schedule.dto';

// PUT takes any subset of the create fields; the merged result is validated as a whole again.
export class UpdateScheduleDto extends PartialType(CreateScheduleDto) {}

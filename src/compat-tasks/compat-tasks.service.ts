import { Injectable } from '@nestjs/common';
import { Principal } from '../auth/principal';
import { AppException, RequestValidationException } from '../common/errors/app.exception';
import { isPlainObject } from '../common/validation/free-object';
import { createValidationPipe } from '../common/validation/validation.pipe';
import { CreateScheduleDto } from '../schedule/dto/create-schedule.dto';
import { ScheduleService } from '../schedule/schedule.service';
import { CreateTaskDto } from './dto/create-task.dto';
import { ListTasksQuery } from './dto/list-tasks.query';
import { taskSummaryView, taskView } from './dto/task.response';
import { scheduleStatusesOf } from './task-status';

// Our field names in an error, as the seed's client knows them.
function seedFieldOf(field: string | null, phoneField: string): string | null {
  if (field === null) return null;
  if (field === 'phone') return phoneField;
  if (field === 'scheduled_time') return 'runAtUtc';
  const renamed: Record<string, string> = { backend_base_url: 'backendBaseUrl', agent_type: 'agentType', conversation_id: 'conversationId', mode: 'mode', payload: 'payload' };
  const m = /^provider_options\.([a-z_]+)(.*)$/.exec(field);
  if (m && renamed[m[1]]) return `${renamed[m[1]]}${m[2]}`;
  return field.startsWith('provider_options') ? 'payload' : field;
}

// Seed 000's task API over the schedule service: a task is a one-time schedule on the agent backend.
@Injectable()
export class CompatTasksService {
  private readonly pipe = createValidationPipe();

  constructor(private readonly schedules: ScheduleService) {}

  async create(principal: Principal, dto: CreateTaskDto) {
    const mode = dto.mode ?? 'DIRECT';
    const place = isPlainObject(dto.payload.place) ? dto.payload.place : null;
    // BRIEF_START names the number in payload.place, DIRECT in payload itself.
    const phoneField = mode === 'BRIEF_START' && place?.phoneE164 !== undefined ? 'payload.place.phoneE164' : 'payload.phoneE164';
    const phone = phoneField === 'payload.place.phoneE164' ? place?.phoneE164 : dto.payload.phoneE164;
    if (phone === undefined || phone === null) throw new RequestValidationException('VALIDATION_002', phoneField, `${phoneField} is required`);
    const plain = {
      phone,
      scheduled_time: dto.runAtUtc,
      timezone: 'UTC',
      description: [dto.agentType, dto.conversationId].filter(Boolean).join(' ') || undefined,
      provider_options: {
        provider: 'agent_backend',
        mode,
        ...(dto.backendBaseUrl !== undefined ? { backend_base_url: dto.backendBaseUrl.replace(/\/+$/, '') } : {}),
        ...(dto.agentType !== undefined ? { agent_type: dto.agentType } : {}),
        ...(dto.conversationId !== undefined ? { conversation_id: dto.conversationId } : {}),
        payload: dto.payload,
      },
    };
    try {
      const schedule = (await this.pipe.transform(plain, { type: 'body', metatype: CreateScheduleDto, data: '' })) as CreateScheduleDto;
      const { schedule: created } = await this.schedules.create(principal, schedule);
      return { taskId: created.id, status: taskSummaryView(created).status };
    } catch (error) {
      if (!(error instanceof AppException)) throw error;
      throw new AppException(error.code, { field: seedFieldOf(error.details.field, phoneField), issue: error.details.issue }, error.message);
    }
  }

  async get(principal: Principal, taskId: string) {
    const { schedule, events } = await this.schedules.get(principal, taskId);
    return taskView(schedule, events);
  }

  async cancel(principal: Principal, taskId: string) {
    const schedule = await this.schedules.cancel(principal, taskId);
    return { taskId: schedule.id, status: taskSummaryView(schedule).status };
  }

  async list(principal: Principal, query: ListTasksQuery) {
    const items = await this.schedules.listInStatuses(principal, query.status ? scheduleStatusesOf(query.status) : undefined, query.limit);
    return items.map(taskSummaryView);
  }
}

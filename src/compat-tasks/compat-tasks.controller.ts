import { Body, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { CurrentPrincipal, Public } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { CompatTasksService } from './compat-tasks.service';
import { CreateTaskDto } from './dto/create-task.dto';
import { ListTasksQuery } from './dto/list-tasks.query';
import { TasksAuthGuard } from './tasks-auth.guard';

// Seed 000's routes and shapes (see docs/api.md, "Seed 000 task API"). The seed is a FastAPI service: its POSTs answer 200.
// Public only to the global JWT guard: TasksAuthGuard takes a JWT or the configured tasks token.
@Public()
@UseGuards(TasksAuthGuard)
@Controller('tasks')
export class CompatTasksController {
  constructor(private readonly service: CompatTasksService) {}

  @Post()
  @HttpCode(200)
  create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateTaskDto) {
    return this.service.create(principal, dto);
  }

  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListTasksQuery) {
    return this.service.list(principal, query);
  }

  @Get(':taskId')
  get(@CurrentPrincipal() principal: Principal, @Param('taskId') taskId: string) {
    return this.service.get(principal, taskId);
  }

  @Post(':taskId/cancel')
  @HttpCode(200)
  cancel(@CurrentPrincipal() principal: Principal, @Param('taskId') taskId: string) {
    return this.service.cancel(principal, taskId);
  }
}

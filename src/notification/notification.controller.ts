import { Body, Controller, Delete, Get, Headers, HttpCode, Logger, Param, Patch, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { AdminRoleRequiredException } from '../auth/auth.exceptions';
import { Principal } from '../auth/principal';
import { AppConfig } from '../config/app-config';
import { PageQuery } from '../common/dto/page.query';
import { deliveryView, subscriptionView } from './dto/notification.response';
import { ListDeliveriesQuery, StreamQuery } from './dto/notification.queries';
import { CreateSubscriptionDto, UpdateSubscriptionDto } from './dto/subscription.dto';
import { InvalidLastEventIdException } from './notification.exceptions';
import { NotificationStreamService } from './notification-stream.service';
import { envelopeOf } from './notification.types';
import { WebhookDeliveryService } from './webhook-delivery.service';
import { WebhookSubscriptionService } from './webhook-subscription.service';

@Controller('notifications')
export class NotificationController {
  private readonly logger = new Logger(NotificationController.name);

  constructor(
    private readonly subscriptions: WebhookSubscriptionService,
    private readonly deliveries: WebhookDeliveryService,
    private readonly stream: NotificationStreamService,
    private readonly config: AppConfig,
  ) {}

  @Get('stream')
  async streamEvents(
    @CurrentPrincipal() principal: Principal,
    @Query() query: StreamQuery,
    @Headers('last-event-id') lastEventIdHeader: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    if (query.all && !principal.isAdmin) throw new AdminRoleRequiredException();
    const lastEventId = lastEventIdHeader?.trim() || query.last_event_id || null;
    if (lastEventId !== null && !/^[0-9a-f]{24}$/i.test(lastEventId)) throw new InvalidLastEventIdException();

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    // Not over a draining instance's `Connection: close` (ShutdownDrain): the stream is ended then anyway.
    if (!res.hasHeader('Connection')) res.setHeader('Connection', 'keep-alive');
    // Proxies such as nginx would otherwise buffer the stream.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write(': connected\n\n');

    let closed = false;
    let unsubscribe: (() => void) | null = null;
    const heartbeat = setInterval(() => res.write(`: heartbeat ${new Date().toISOString()}\n\n`), this.config.notifications.streamHeartbeatMs);
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unsubscribe?.();
      res.end();
    };
    req.on('close', close);
    try {
      unsubscribe = await this.stream.open({ tenantId: principal.tenantId, allTenants: query.all === true }, lastEventId?.toLowerCase() ?? null, {
        event: (event) => {
          if (!closed) res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(envelopeOf(event))}\n\n`);
        },
        end: close,
      });
    } catch (error) {
      // The 200 is already out, so the error body can't be: the client reconnects with its Last-Event-ID.
      this.logger.warn(`stream replay failed: ${error instanceof Error ? error.message : String(error)}`);
      close();
    }
    if (closed) unsubscribe?.();
  }

  @Post('subscriptions')
  async createSubscription(@CurrentPrincipal() principal: Principal, @Body() dto: CreateSubscriptionDto) {
    const subscription = await this.subscriptions.create(principal, dto);
    // The only response that ever carries the secret.
    return { status: 'success', message: 'Subscription created', subscription: { ...subscriptionView(subscription), secret: subscription.secret } };
  }

  @Get('subscriptions')
  async listSubscriptions(@CurrentPrincipal() principal: Principal, @Query() query: PageQuery) {
    const { items, total } = await this.subscriptions.list(principal, query.limit, query.offset);
    return { status: 'success', total, limit: query.limit, offset: query.offset, subscriptions: items.map(subscriptionView) };
  }

  @Get('subscriptions/:id')
  async getSubscription(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return { status: 'success', subscription: subscriptionView(await this.subscriptions.get(principal, id)) };
  }

  @Patch('subscriptions/:id')
  async updateSubscription(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Body() dto: UpdateSubscriptionDto) {
    return { status: 'success', message: 'Subscription updated', subscription: subscriptionView(await this.subscriptions.update(principal, id, dto)) };
  }

  // PUT is accepted as PATCH: fields left out keep their values.
  @Put('subscriptions/:id')
  replaceSubscription(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Body() dto: UpdateSubscriptionDto) {
    return this.updateSubscription(principal, id, dto);
  }

  @Delete('subscriptions/:id')
  @HttpCode(200)
  async deleteSubscription(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    await this.subscriptions.remove(principal, id);
    return { status: 'success', message: 'Subscription deleted', subscription_id: id };
  }

  @Get('deliveries')
  async listDeliveries(@CurrentPrincipal() principal: Principal, @Query() query: ListDeliveriesQuery) {
    const { items, total } = await this.deliveries.list(principal, { subscription_id: query.subscription_id?.toLowerCase(), status: query.status }, query.limit, query.offset);
    const delays = this.config.notifications.retryDelaysMs;
    return { status: 'success', total, limit: query.limit, offset: query.offset, deliveries: items.map((d) => deliveryView(d, delays)) };
  }

  @Get('deliveries/:id')
  async getDelivery(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return { status: 'success', delivery: deliveryView(await this.deliveries.get(principal, id), this.config.notifications.retryDelaysMs) };
  }

  @Post('deliveries/:id/redeliver')
  @HttpCode(200)
  async redeliver(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    const delivery = await this.deliveries.redeliver(principal, id);
    return { status: 'success', message: 'Redelivery attempted', delivery: deliveryView(delivery, this.config.notifications.retryDelaysMs) };
  }
}

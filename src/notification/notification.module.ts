import { Global, Module, OnModuleInit } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { MongooseModule } from '@nestjs/mongoose';
import { DomainEventPublisher } from './domain-event.publisher';
import { EventRelayRepository } from './event-relay.repository';
import { EventRelay } from './event-relay.service';
import { NotificationController } from './notification.controller';
import { NotificationEventRepository } from './notification-event.repository';
import { NotificationMaintenanceJob } from './notification-maintenance.job';
import { NotificationStreamService } from './notification-stream.service';
import { NotificationService } from './notification.service';
import { EventRelayPendingDoc, EventRelayPendingSchema, NotificationEventDoc, NotificationEventKeyDoc, NotificationEventKeySchema, NotificationEventSchema } from './schemas/notification-event.schema';
import { writeGateFeature } from '../common/mongo/write-gate';
import { WEBHOOK_DELIVERY_WRITE_GATE, WebhookDeliveryDoc, WebhookDeliverySchema } from './schemas/webhook-delivery.schema';
import { WebhookSubscriptionDoc, WebhookSubscriptionSchema, WEBHOOK_SUBSCRIPTION_WRITE_GATE } from './schemas/webhook-subscription.schema';
import { WebhookDeliveryJob } from './webhook-delivery.job';
import { WebhookDeliveryRepository } from './webhook-delivery.repository';
import { WebhookDeliveryService } from './webhook-delivery.service';
import { WebhookSender } from './webhook-sender';
import { WebhookSubscriptionRepository } from './webhook-subscription.repository';
import { WebhookSubscriptionService } from './webhook-subscription.service';

@Global()
@Module({
  imports: [
    DiscoveryModule,
    MongooseModule.forFeature([
      { name: NotificationEventDoc.name, schema: NotificationEventSchema },
      { name: NotificationEventKeyDoc.name, schema: NotificationEventKeySchema },
      { name: EventRelayPendingDoc.name, schema: EventRelayPendingSchema },
      { name: WebhookSubscriptionDoc.name, schema: WebhookSubscriptionSchema },
      { name: WebhookDeliveryDoc.name, schema: WebhookDeliverySchema },
      writeGateFeature(WEBHOOK_DELIVERY_WRITE_GATE, 'webhook_delivery_write_gates'),
      writeGateFeature(WEBHOOK_SUBSCRIPTION_WRITE_GATE, 'webhook_subscription_write_gates'),
    ]),
  ],
  controllers: [NotificationController],
  providers: [
    DomainEventPublisher,
    EventRelay,
    EventRelayRepository,
    NotificationService,
    NotificationEventRepository,
    NotificationStreamService,
    WebhookSubscriptionRepository,
    WebhookSubscriptionService,
    WebhookDeliveryRepository,
    WebhookDeliveryService,
    WebhookSender,
    WebhookDeliveryJob,
    NotificationMaintenanceJob,
  ],
  exports: [DomainEventPublisher, NotificationService, EventRelay],
})
export class NotificationModule implements OnModuleInit {
  constructor(
    private readonly events: NotificationEventRepository,
    private readonly subscriptions: WebhookSubscriptionRepository,
    private readonly deliveries: WebhookDeliveryRepository,
  ) {}

  async onModuleInit(): Promise<void> {
    await Promise.all([this.events.ensureIndexes(), this.subscriptions.ensureIndexes(), this.deliveries.ensureIndexes()]);
  }
}

import { AppException } from '../common/errors/app.exception';

export class InvalidSubscriptionUrlException extends AppException {
  constructor(issue: string) {
    super('NOTIFICATION_001', { field: 'url', issue }, issue);
  }
}

export class ForbiddenSubscriptionTargetException extends AppException {
  constructor(issue: string) {
    super('NOTIFICATION_002', { field: 'url', issue }, issue);
  }
}

export class SubscriptionNotFoundException extends AppException {
  constructor(id: string) {
    super('NOTIFICATION_004', { field: 'subscription_id', issue: `No subscription ${id} for this caller` });
  }
}

export class DeliveryNotFoundException extends AppException {
  constructor(id: string) {
    super('NOTIFICATION_005', { field: 'delivery_id', issue: `No delivery ${id} for this caller` });
  }
}

export class InvalidLastEventIdException extends AppException {
  constructor() {
    super('NOTIFICATION_006', { field: 'Last-Event-ID', issue: 'Last-Event-ID must be an event id received from this stream' });
  }
}

export class SubscriptionInactiveException extends AppException {
  constructor(id: string) {
    super('NOTIFICATION_007', { field: 'subscription_id', issue: `Subscription ${id} is inactive or deleted; activate it before redelivering` });
  }
}

import { Injectable } from '@nestjs/common';
import { Principal, scopeOf } from '../auth/principal';
import { Clock } from '../common/clock/clock';
import { AppConfig } from '../config/app-config';
import { ForbiddenAddressError, resolveAllowed } from './address-guard';
import { CreateSubscriptionDto, UpdateSubscriptionDto } from './dto/subscription.dto';
import { ForbiddenSubscriptionTargetException, InvalidSubscriptionUrlException, SubscriptionNotFoundException } from './notification.exceptions';
import { WebhookSubscription } from './notification.types';
import { generateWebhookSecret } from './outbound-signature';
import { WebhookSubscriptionRepository } from './webhook-subscription.repository';

@Injectable()
export class WebhookSubscriptionService {
  constructor(
    private readonly subscriptions: WebhookSubscriptionRepository,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  async create(principal: Principal, dto: CreateSubscriptionDto): Promise<WebhookSubscription> {
    const url = await this.vetUrl(dto.url);
    const now = this.clock.now();
    return this.subscriptions.create({
      tenant_id: principal.tenantId,
      url,
      events: dto.events,
      secret: dto.secret ?? generateWebhookSecret(),
      active: dto.active ?? true,
      description: dto.description ?? null,
      created_by: principal.sub,
      created_at: now,
      updated_at: now,
    });
  }

  list(principal: Principal, limit: number, offset: number) {
    return this.subscriptions.listForTenant(scopeOf(principal), limit, offset);
  }

  async get(principal: Principal, id: string): Promise<WebhookSubscription> {
    const found = await this.subscriptions.findForTenant(id, scopeOf(principal));
    if (!found) throw new SubscriptionNotFoundException(id);
    return found;
  }

  async update(principal: Principal, id: string, dto: UpdateSubscriptionDto): Promise<WebhookSubscription> {
    await this.get(principal, id);
    const changes = { ...dto, ...(dto.url !== undefined ? { url: await this.vetUrl(dto.url) } : {}) };
    const updated = await this.subscriptions.updateForTenant(id, scopeOf(principal), changes, this.clock.now());
    if (!updated) throw new SubscriptionNotFoundException(id);
    return updated;
  }

  async remove(principal: Principal, id: string): Promise<void> {
    if (!(await this.subscriptions.deleteForTenant(id, scopeOf(principal)))) throw new SubscriptionNotFoundException(id);
  }

  // Checked here and again at every delivery (the name may re-resolve elsewhere by then).
  private async vetUrl(raw: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new InvalidSubscriptionUrlException('url must be an absolute http(s) URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidSubscriptionUrlException('url must use http or https');
    if (url.username || url.password) throw new InvalidSubscriptionUrlException('url must not carry credentials; authenticate with the signature');
    if (url.hash) throw new InvalidSubscriptionUrlException('url must not have a #fragment');
    try {
      await resolveAllowed(url.hostname, this.config.notifications.allowPrivateUrls);
    } catch (error) {
      if (error instanceof ForbiddenAddressError) throw new ForbiddenSubscriptionTargetException(error.message);
      throw new InvalidSubscriptionUrlException(`${url.hostname} could not be resolved`);
    }
    return url.toString();
  }
}

import type { Scenario } from '../lib/harness';
import { crash } from './crash';
import { dbOutage } from './db-outage';
import { gracefulShutdown } from './graceful-shutdown';
import { injection } from './injection';
import { jwtAttacks } from './jwt-attacks';
import { providerStorm } from './provider-storm';
import { races } from './races';
import { tenantIsolation } from './tenant-isolation';
import { time } from './time';
import { webhookFuzz } from './webhook-fuzz';

export const SCENARIOS: Scenario[] = [crash, races, dbOutage, providerStorm, gracefulShutdown, webhookFuzz, jwtAttacks, injection, tenantIsolation, time].sort((a, b) => a.id - b.id);

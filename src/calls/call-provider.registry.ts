import { Injectable } from '@nestjs/common';
import type { CallProviderName } from '../config/environment.schema';
import { CallProvider } from './call-provider';
import { AgentBackendCallProvider } from './providers/agent-backend-call.provider';
import { SimulatedCallProvider } from './providers/simulated-call.provider';
import { TwilioCallProvider } from './providers/twilio-call.provider';

@Injectable()
export class CallProviderRegistry {
  private readonly byName: Record<CallProviderName, CallProvider>;

  constructor(simulated: SimulatedCallProvider, twilio: TwilioCallProvider, agentBackend: AgentBackendCallProvider) {
    this.byName = { simulated, twilio, agent_backend: agentBackend };
  }

  get(name: CallProviderName): CallProvider {
    return this.byName[name];
  }
}

import { Injectable } from '@nestjs/common';
import { resolveProviderOptions } from '../calls/provider-options';
import { VoiceInstructions } from '../calls/twiml.builder';
import { AppConfig } from '../config/app-config';
import { CallLogRepository } from '../tracking/call-log.repository';
import { ScheduleRepository } from './schedule.repository';

const DEFAULT_MESSAGE = 'Hello, this is your scheduled call.';
// Twilio caps a <Stream> parameter's value; metadata beyond this is left to the agent to fetch.
const MAX_PARAMETER_CHARS = 500;

// The instructions for an answered call, from the schedule it belongs to: provider_options.say when
// given, otherwise the configured voice-agent stream, otherwise the schedule's description read aloud.
@Injectable()
export class CallInstructionsService {
  constructor(
    private readonly callLogs: CallLogRepository,
    private readonly schedules: ScheduleRepository,
    private readonly config: AppConfig,
  ) {}

  async forCallLog(callLogId: string): Promise<VoiceInstructions | null> {
    const log = await this.callLogs.findById(callLogId);
    if (!log) return null;
    const schedule = log.schedule_id ? await this.schedules.findById(log.schedule_id) : null;
    let say = null;
    try {
      say = resolveProviderOptions(schedule?.provider_options ?? {}, this.config, 'ignore').say;
    } catch {
      // options that no longer validate still get a spoken message below
    }
    if (say) return { say, stream: null };
    if (this.config.voiceAgentStreamUrl) {
      const metadata = JSON.stringify(log.metadata ?? {});
      return {
        say: null,
        stream: {
          url: this.config.voiceAgentStreamUrl,
          parameters: {
            call_log_id: log.id,
            schedule_id: log.schedule_id ?? '',
            agent_instance_id: log.agent_instance_id ?? '',
            tenant_id: log.tenant_id,
            attempt_number: String(log.attempt_number),
            metadata: metadata.length <= MAX_PARAMETER_CHARS ? metadata : '{}',
          },
        },
      };
    }
    return { say: { text: schedule?.description ?? DEFAULT_MESSAGE, voice: null, language: null }, stream: null };
  }
}

import twilio from 'twilio';
import type { SayOptions } from './provider-options';

export interface VoiceInstructions {
  say: SayOptions | null;
  stream: { url: string; parameters: Record<string, string> } | null;
}

// What Twilio plays once the callee answers: the schedule's message, or a media stream that hands
// the call to a voice agent.
export function buildVoiceTwiml(instructions: VoiceInstructions): string {
  const response = new twilio.twiml.VoiceResponse();
  if (instructions.stream) {
    const stream = response.connect().stream({ url: instructions.stream.url });
    for (const [name, value] of Object.entries(instructions.stream.parameters)) stream.parameter({ name, value });
  } else if (instructions.say) {
    const { text, voice, language } = instructions.say;
    response.say({ ...(voice ? { voice: voice as never } : {}), ...(language ? { language: language as never } : {}) }, text);
  }
  return response.toString();
}

import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';

export interface BackendResponse {
  status: number;
  body: unknown;
}

// The network boundary to HTTP voice-agent backends. Every request carries the internal bearer token.
@Injectable()
export class AgentBackendClient {
  constructor(private readonly config: AppConfig) {}

  async post(url: string, body: unknown): Promise<BackendResponse> {
    const token = this.config.agentBackend.internalToken;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      redirect: 'error',
      signal: AbortSignal.timeout(this.config.agentBackend.requestTimeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : null;
    } catch {
      // a non-JSON body is kept as text for the error message
    }
    return { status: res.status, body: parsed };
  }
}

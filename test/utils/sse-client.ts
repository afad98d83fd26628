import http from 'node:http';

export interface SseMessage {
  id: string | null;
  event: string | null;
  data: string;
}

// A minimal EventSource: records messages and comment lines (heartbeats) as they arrive.
export class SseClient {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  status = 0;
  ended = false;
  private req: http.ClientRequest | null = null;
  private buffer = '';

  static open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const client = new SseClient();
    return new Promise((resolve, reject) => {
      client.req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        client.status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => client.feed(chunk));
        res.on('end', () => (client.ended = true));
        res.on('error', () => undefined);
        resolve(client);
      });
      client.req.on('error', reject);
    });
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const frame = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const message: SseMessage = { id: null, event: null, data: '' };
      let isMessage = false;
      for (const line of frame.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
        else {
          const at = line.indexOf(':');
          const field = line.slice(0, at);
          const value = line.slice(at + 1).replace(/^ /, '');
          isMessage = true;
          if (field === 'id') message.id = value;
          else if (field === 'event') message.event = value;
          else if (field === 'data') message.data += value;
        }
      }
      if (isMessage) this.messages.push(message);
    }
  }

  envelopes(): Array<{ id: string; type: string; data: Record<string, unknown> }> {
    return this.messages.map((m) => JSON.parse(m.data));
  }

  close(): void {
    this.req?.destroy();
  }
}

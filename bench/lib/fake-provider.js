'use strict';
// The fake provider: answers Twilio's Calls.json create like Twilio does (201 with a CA sid) and records
// each request's arrival time. The service (TWILIO_API_BASE_URL), raw Agenda and BullMQ all call it.
const { randomBytes } = require('node:crypto');
const { createServer } = require('node:http');

const ACCOUNT_SID = `AC${'0123456789abcdef'.repeat(2)}`;
const AUTH_TOKEN = 'bench-twilio-token-0123456789abcdef';
const FROM = '+15005550006';

class FakeProvider {
  constructor() {
    this.arrivals = [];
    this.server = createServer((req, res) => {
      const at = Date.now();
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (req.method !== 'POST' || !req.url.endsWith('/Calls.json')) {
          res.writeHead(404, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ code: 20404, message: 'Not found', status: 404 }));
        }
        const params = new URLSearchParams(body);
        this.arrivals.push({ at, to: params.get('To') });
        const sid = `CA${randomBytes(16).toString('hex')}`;
        const now = new Date(at).toUTCString();
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            sid,
            account_sid: ACCOUNT_SID,
            to: params.get('To'),
            from: params.get('From'),
            status: 'queued',
            direction: 'outbound-api',
            date_created: now,
            date_updated: now,
            api_version: '2010-04-01',
            uri: `/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${sid}.json`,
          }),
        );
      });
    });
    this.server.keepAliveTimeout = 60_000;
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  reset() {
    this.arrivals = [];
  }

  async stop() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

// What the service needs to dial through the fake.
function twilioEnv(fakeUrl) {
  return { CALL_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_FROM_NUMBER: FROM, TWILIO_API_BASE_URL: fakeUrl };
}

module.exports = { FakeProvider, twilioEnv, ACCOUNT_SID, AUTH_TOKEN, FROM };

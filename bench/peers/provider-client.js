'use strict';
// The request the service makes: Twilio's Calls.create through the SDK, sent to the fake provider by the
// service's own RebasedRequestClient (from the build the harness runs).
const { join } = require('node:path');
const twilio = require('twilio');

function providerClient(buildDir, fakeUrl, sid, token) {
  const { RebasedRequestClient } = require(join(buildDir, 'calls', 'providers', 'twilio-client.factory.js'));
  return twilio(sid, token, { autoRetry: false, httpClient: new RebasedRequestClient(fakeUrl, 15_000) });
}

const callRequest = (to, from) => ({ to, from, url: 'http://127.0.0.1:1/webhook/twiml/bench', statusCallback: 'http://127.0.0.1:1/webhook/call-status', statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'] });

module.exports = { providerClient, callRequest };

import { twilioCallbackReport, twilioStatusOf } from './twilio-status';

describe('Twilio status adapter', () => {
  it("turns a status callback's form fields into the service's report", () => {
    expect(
      twilioCallbackReport({
        CallSid: 'CA0123',
        CallStatus: 'no-answer',
        SequenceNumber: '3',
        CallDuration: '0',
        Timestamp: 'Thu, 03 Dec 2026 17:00:05 +0000',
        SipResponseCode: '480',
      }),
    ).toEqual({
      callId: 'CA0123',
      status: 'no_answer',
      providerStatus: 'no-answer',
      sequence: 3,
      at: new Date('2026-12-03T17:00:05Z'),
      duration: 0,
      answeredBy: null,
      errorCode: null,
      errorMessage: 'SIP 480',
    });
  });

  it("keeps Twilio's own error message, reports no SIP code on a completed call, and leaves a bad timestamp to the receipt time", () => {
    expect(twilioCallbackReport({ CallSid: 'CA1', CallStatus: 'failed', ErrorCode: '32009', ErrorMessage: 'Carrier rejected', SipResponseCode: '503' })).toMatchObject({
      status: 'failed',
      errorCode: '32009',
      errorMessage: 'Carrier rejected',
      sequence: null,
      duration: null,
      at: null,
    });
    expect(twilioCallbackReport({ CallSid: 'CA2', CallStatus: 'completed', SipResponseCode: '200', AnsweredBy: 'human', Timestamp: 'not a date' })).toMatchObject({
      status: 'completed',
      errorMessage: null,
      answeredBy: 'human',
      at: null,
    });
    expect(twilioCallbackReport({ CallSid: 'CA3', CallStatus: 'ringing', SipResponseCode: '180' }).errorMessage).toBeNull();
  });

  it('maps looked-up statuses, and none it does not know', () => {
    expect(twilioStatusOf('in-progress')).toBe('in_progress');
    expect(twilioStatusOf('canceled')).toBe('canceled');
    expect(twilioStatusOf('queued-for-review')).toBeNull();
  });
});

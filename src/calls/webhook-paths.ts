export const STATUS_CALLBACK_PATH = '/webhook/call-status';
export const TWIML_PATH = '/webhook/twiml';

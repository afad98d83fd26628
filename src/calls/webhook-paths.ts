export const STATUS_CALLBACK_PATH = '/webhook/call-status';
export const TWIML_PATH = '/webhook/twiml';
export const AGENT_BACKEND_CALLBACK_PATH = '/webhook/agent-backend/call-status';

import { AppException } from '../common/errors/app.exception';

export class MissingTokenException extends AppException {
  constructor() {
    super('AUTH_001', { field: 'Authorization', issue: 'Send Authorization: Bearer <JWT>' });
  }
}

export class InvalidTokenException extends AppException {
  constructor(issue: string) {
    super('AUTH_002', { field: 'Authorization', issue });
  }
}

export class TokenExpiredException extends AppException {
  constructor() {
    super('AUTH_003', { field: 'Authorization', issue: 'The token has expired' });
  }
}

export class TokenWithoutExpiryException extends AppException {
  constructor() {
    super('AUTH_004', { field: 'Authorization', issue: 'The token has no exp claim' });
  }
}

export class AdminRoleRequiredException extends AppException {
  constructor() {
    super('AUTH_005', { field: 'Authorization', issue: 'This route requires the admin role' });
  }
}

export class AgentInstanceNotAllowedException extends AppException {
  constructor(allowed: string[]) {
    super('AUTH_006', { field: 'agent_instance_id', issue: `This token may act only for agent instance${allowed.length === 1 ? '' : 's'} ${allowed.join(', ')}` });
  }
}

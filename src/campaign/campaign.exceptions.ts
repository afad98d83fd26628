import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { CampaignStatus } from './campaign.types';

export class CampaignNotFoundException extends AppException {
  constructor(id: string) {
    super('CAMPAIGN_001', { field: 'campaign_id', issue: `No campaign ${id} for this caller` });
  }
}

export class IllegalCampaignTransitionException extends AppException {
  constructor(action: string, status: CampaignStatus) {
    super('CAMPAIGN_002', { field: 'status', issue: `Cannot ${action} a campaign that is ${status}` }, `Cannot ${action} a campaign that is ${status}`);
  }
}

export class InvalidCampaignInputException extends AppException {
  constructor(code: ErrorCode, field: string, issue: string) {
    super(code, { field, issue }, issue);
  }
}

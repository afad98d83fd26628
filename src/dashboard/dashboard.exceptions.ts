import { AppException } from '../common/errors/app.exception';

export class DashboardNotBuiltException extends AppException {
  constructor() {
    super('SERVICE_001', { field: null, issue: 'The dashboard bundle has not been built: run `npm run build:dashboard`' }, 'Dashboard not built');
  }
}

export class DashboardFileNotFoundException extends AppException {
  constructor(path: string) {
    super('ROUTE_001', { field: 'path', issue: `No dashboard file ${path}` });
  }
}

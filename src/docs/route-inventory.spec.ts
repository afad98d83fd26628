import { openApiPath } from './route-inventory';

describe('openApiPath', () => {
  it('turns Express paths into OpenAPI paths', () => {
    expect(openApiPath('schedule/')).toBe('/schedule');
    expect(openApiPath('/schedule//:id/pause')).toBe('/schedule/{id}/pause');
    expect(openApiPath('dashboard/*path')).toBe('/dashboard/{path}');
    expect(openApiPath('/')).toBe('/');
  });
});

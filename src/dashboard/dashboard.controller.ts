import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../auth/auth.decorators';
import { DashboardBundle } from './dashboard-bundle';
import { DashboardFileNotFoundException, DashboardNotBuiltException } from './dashboard.exceptions';

// The page and its assets are public; the page itself asks for a token and calls the API with it.
@ApiTags('dashboard')
@Public()
@Controller('dashboard')
export class DashboardController {
  constructor(private readonly bundle: DashboardBundle) {}

  @Get()
  @ApiOperation({ summary: 'The operations dashboard (HTML page; sign in there with a pasted JWT)' })
  @ApiProduces('text/html')
  @ApiOkResponse({ description: 'The page', schema: { type: 'string' } })
  @ApiResponse({ status: 503, description: 'The bundle was not built (`npm run build:dashboard`): SERVICE_001' })
  async page(@Res() res: Response): Promise<void> {
    await this.serve(res, 'index.html');
  }

  @Get('*path')
  @ApiOperation({ summary: "The dashboard's built assets (scripts, styles, icon)" })
  @ApiParam({ name: 'path', type: String, example: 'assets/index-<content hash>.js' })
  @ApiProduces('text/javascript', 'text/css', 'image/svg+xml')
  @ApiOkResponse({ description: 'The file; files under assets/ are content-hashed and cached for a year', schema: { type: 'string' } })
  @ApiResponse({ status: 404, description: 'No such file: ROUTE_001' })
  @ApiResponse({ status: 503, description: 'The bundle was not built (`npm run build:dashboard`): SERVICE_001' })
  async file(@Param('path') path: string[] | string, @Res() res: Response): Promise<void> {
    await this.serve(res, Array.isArray(path) ? path.join('/') : path);
  }

  private async serve(res: Response, relativePath: string): Promise<void> {
    if (!this.bundle.isBuilt()) throw new DashboardNotBuiltException();
    if ((await this.bundle.send(res, relativePath)) === 'not_found') throw new DashboardFileNotFoundException(relativePath);
  }
}

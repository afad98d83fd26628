import { ApiProperty } from '@nestjs/swagger';
import { AUDIT_OUTCOMES } from '../audit.types';

export class AuditEntryResponse {
  @ApiProperty({ example: '6b02475f88ffaaf090453f10' }) id: string;
  @ApiProperty({ example: '2026-11-22T01:37:45.120Z' }) at: string;
  @ApiProperty({ example: 'alice', description: 'JWT sub of the caller' }) actor: string;
  @ApiProperty({ example: 'acme' }) tenant_id: string;
  @ApiProperty({ example: 'schedule.pause' }) action: string;
  @ApiProperty({ example: 'POST' }) method: string;
  @ApiProperty({ example: '/schedule/:id/pause' }) route: string;
  @ApiProperty({ example: '6b02475f88ffaaf090453f02', nullable: true, type: String }) target_id: string | null;
  @ApiProperty({ example: '0f5c1c8e-4a57-4a8e-9a59-8c3c2f7f4f1e', nullable: true, type: String }) request_id: string | null;
  @ApiProperty({ example: '3f1c9a0b7d2e4c58', nullable: true, type: String, description: 'First 16 hex digits of the SHA-256 of the bearer token used' }) token_fingerprint: string | null;
  @ApiProperty({ enum: AUDIT_OUTCOMES, example: 'success' }) outcome: string;
  @ApiProperty({ example: 200 }) status_code: number;
  @ApiProperty({ example: null, nullable: true, type: String }) error_code: string | null;
}

export class AuditPageResponse {
  @ApiProperty({ example: 'success' }) status: 'success';
  @ApiProperty({ example: 1 }) total: number;
  @ApiProperty({ example: 50 }) limit: number;
  @ApiProperty({ example: 0 }) offset: number;
  @ApiProperty({ type: [AuditEntryResponse] }) entries: AuditEntryResponse[];
}

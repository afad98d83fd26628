import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtAuthGuard } from './jwt-auth.guard';
import { TokenVerifierService } from './token-verifier.service';

@Module({
  providers: [TokenVerifierService, { provide: APP_GUARD, useClass: JwtAuthGuard }],
  exports: [TokenVerifierService],
})
export class AuthModule {}

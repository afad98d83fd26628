import { Injectable } from '@nestjs/common';
import { createPublicKey, createSecretKey, KeyObject } from 'node:crypto';
import jwt, { Algorithm, JwtPayload, TokenExpiredError } from 'jsonwebtoken';
import { AppConfig } from '../config/app-config';
import {
  InvalidTokenException,
  TokenExpiredException,
  TokenWithoutExpiryException,
} from './auth.exceptions';
import { Principal } from './principal';

@Injectable()
export class TokenVerifierService {
  private readonly key: KeyObject;
  // Pinned: a token's own alg header never chooses the algorithm (defeats alg:none and HS/RS confusion).
  private readonly algorithms: Algorithm[];

  constructor(private readonly config: AppConfig) {
    // A key object, made once: given a string, jsonwebtoken first tries to parse it as a PEM public key on
    // every verify, and that failed parse was a fifth of the service's CPU under POST /schedule/ load.
    this.key = config.jwt.publicKey ? createPublicKey(config.jwt.publicKey) : createSecretKey(Buffer.from(config.jwt.secret, 'utf8'));
    this.algorithms = config.jwt.publicKey ? ['RS256'] : ['HS256'];
  }

  verify(token: string): Principal {
    let payload: JwtPayload;
    try {
      const decoded = jwt.verify(token, this.key, {
        algorithms: this.algorithms,
        issuer: this.config.jwt.issuer,
        audience: this.config.jwt.audience,
        complete: false,
      });
      if (typeof decoded === 'string') throw new InvalidTokenException('Token payload must be a JSON object');
      payload = decoded;
    } catch (error) {
      if (error instanceof TokenExpiredError) throw new TokenExpiredException();
      if (error instanceof InvalidTokenException) throw error;
      throw new InvalidTokenException(error instanceof Error ? error.message : 'Invalid token');
    }
    if (typeof payload.exp !== 'number') throw new TokenWithoutExpiryException();
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 200) {
      throw new InvalidTokenException('Token must carry a string sub claim');
    }
    const agentInstanceIds = payload.agent_instance_ids;
    if (agentInstanceIds !== undefined && !(Array.isArray(agentInstanceIds) && agentInstanceIds.length > 0 && agentInstanceIds.every((id) => typeof id === 'string' && id.length > 0 && id.length <= 200))) {
      throw new InvalidTokenException('agent_instance_ids must be a non-empty list of agent instance ids');
    }
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    const tenant = typeof payload.tenant_id === 'string' && payload.tenant_id.length > 0 ? payload.tenant_id : payload.sub;
    return {
      sub: payload.sub,
      tenantId: tenant,
      userProfileId: typeof payload.user_profile_id === 'string' ? payload.user_profile_id : undefined,
      roles,
      isAdmin: roles.includes('admin'),
      ...(agentInstanceIds ? { agentInstanceIds: [...new Set(agentInstanceIds as string[])] } : {}),
    };
  }
}

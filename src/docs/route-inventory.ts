import { INestApplication, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { IS_PUBLIC, REQUIRES_ADMIN } from '../auth/auth.decorators';

export interface InventoryRoute {
  method: string;
  path: string;
  isPublic: boolean;
  isAdminOnly: boolean;
  controller: string;
  handler: string;
}

// "/schedule/:id/" -> "/schedule/{id}", "/x/*rest" -> "/x/{rest}": the form OpenAPI paths take.
export function openApiPath(path: string): string {
  const joined = `/${path}`.replace(/\/+/g, '/').replace(/[:*]([A-Za-z0-9_]+)/g, '{$1}');
  return joined.length > 1 ? joined.replace(/\/$/, '') : joined;
}

function asArray(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  return [value === undefined ? '/' : String(value)];
}

// Every controller route of the application, with whether it skips JWT or needs the admin role, found through Nest's module
// container so routes added by any module are included.
export function routeInventory(app: INestApplication): InventoryRoute[] {
  const routes: InventoryRoute[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as (new (...args: unknown[]) => unknown) | undefined;
      if (!type || !wrapper.instance) continue;
      const prefixes = asArray(Reflect.getMetadata(PATH_METADATA, type));
      const classPublic = Reflect.getMetadata(IS_PUBLIC, type) === true;
      const classAdmin = Reflect.getMetadata(REQUIRES_ADMIN, type) === true;
      const proto = type.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const fn = proto[name];
        if (name === 'constructor' || typeof fn !== 'function') continue;
        const method = Reflect.getMetadata(METHOD_METADATA, fn) as RequestMethod | undefined;
        if (method === undefined) continue;
        const isPublic = classPublic || Reflect.getMetadata(IS_PUBLIC, fn) === true;
        const isAdminOnly = !isPublic && (classAdmin || Reflect.getMetadata(REQUIRES_ADMIN, fn) === true);
        for (const prefix of prefixes) {
          for (const sub of asArray(Reflect.getMetadata(PATH_METADATA, fn))) {
            routes.push({ method: RequestMethod[method].toLowerCase(), path: openApiPath(`${prefix}/${sub}`), isPublic, isAdminOnly, controller: type.name, handler: name });
          }
        }
      }
    }
  }
  return routes;
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { User } from '../core/user.js';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Present on routes with access 'user' or 'admin'. */
  user: User;
  /** The signed-in session's CSRF token, for pages that post back (absent on public routes). */
  csrfToken?: string;
}

export type Access = 'public' | 'user' | 'admin';

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  access: Access;
  handler: (ctx: RouteContext) => Promise<void> | void;
}

/** Exact-path routes of the gateway's own namespace, looked up by method and path. */
export class RouteTable {
  private readonly routes = new Map<string, Route>();
  private readonly paths = new Set<string>();

  constructor(routes: Route[]) {
    for (const route of routes) {
      this.routes.set(`${route.method} ${route.path}`, route);
      this.paths.add(route.path);
    }
  }

  /** The route, 'method' when the path exists under another method, or null. */
  find(method: string, path: string): Route | 'method' | null {
    const route = this.routes.get(`${method === 'HEAD' ? 'GET' : method} ${path}`);
    if (route) return route;
    return this.paths.has(path) ? 'method' : null;
  }
}

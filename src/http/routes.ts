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
  /** How the user signed in: the auth mode, or "token" (absent on public routes). */
  via?: string;
  /** The sign-in's session id (not a secret; see Authenticated), on routes with access 'user' or 'admin'. */
  sessionId?: string;
  /** Values of the route's `:name` segments, decoded. */
  params: Readonly<Record<string, string>>;
}

export type Access = 'public' | 'user' | 'admin';

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** An exact path, or one with whole-segment parameters: "/_berth/api/me/tokens/:id". */
  path: string;
  access: Access;
  handler: (ctx: RouteContext) => Promise<void> | void;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

interface Pattern {
  segments: string[];
  path: string;
}

/**
 * The gateway's own routes, looked up by method and path: exact paths in one
 * map lookup (the common case), then paths with `:name` segments, each
 * matching one non-empty segment.
 */
export class RouteTable {
  private readonly routes = new Map<string, Route>();
  private readonly exactPaths = new Set<string>();
  private readonly patterns: Pattern[] = [];

  constructor(routes: Route[]) {
    for (const route of routes) {
      this.routes.set(`${route.method} ${route.path}`, route);
      if (!route.path.includes('/:')) this.exactPaths.add(route.path);
      else if (!this.patterns.some((p) => p.path === route.path)) this.patterns.push({ path: route.path, segments: route.path.split('/') });
    }
  }

  /** The route and its parameters, 'method' when the path exists under another method, or null. */
  find(method: string, path: string): RouteMatch | 'method' | null {
    const wanted = method === 'HEAD' ? 'GET' : method;
    if (this.exactPaths.has(path)) {
      const route = this.routes.get(`${wanted} ${path}`);
      return route ? { route, params: {} } : 'method';
    }
    const segments = path.split('/');
    for (const pattern of this.patterns) {
      const params = matchSegments(pattern.segments, segments);
      if (params === null) continue;
      const route = this.routes.get(`${wanted} ${pattern.path}`);
      return route ? { route, params } : 'method';
    }
    return null;
  }
}

function matchSegments(pattern: string[], actual: string[]): Record<string, string> | null {
  if (pattern.length !== actual.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i] as string;
    const got = actual[i] as string;
    if (want.startsWith(':')) {
      if (got === '') return null;
      let value: string;
      try {
        value = decodeURIComponent(got);
      } catch {
        return null;
      }
      params[want.slice(1)] = value;
    } else if (want !== got) {
      return null;
    }
  }
  return params;
}

// The status page routes of the HTTP API: GET / (every link) and GET /ui/links/{name} (one link),
// HTML rendered by shared/ui: the list from the metadata listing alone (it reloads itself: no spec
// read per link), a link from the status GET /links/{name} answers. Served by the API
// function, so the API's IAM applies. Errors are pages too (a browser is asking).
import { getLink, listLinkSummaries } from '../shared/app/queries.js';
import { errorPage, linkPage, PAGE_HEADERS, statusPage } from '../shared/ui/pages.js';
import { errorResponse, type ApiResponse, type Route, type RouteHandler } from './http-api.js';

const page = (status: number, markup: string): ApiResponse => ({ status, headers: { ...PAGE_HEADERS }, body: markup });

/** Answers a handler's failure as an HTML page with the status and message the API would give. */
function asPage(handler: RouteHandler): RouteHandler {
  return async (deps, req, params) => {
    try {
      return await handler(deps, req, params);
    } catch (err) {
      const answer = errorResponse(err, deps);
      const message = (answer.body as { error?: string } | undefined)?.error ?? 'error';
      return page(answer.status, errorPage(answer.status, message, deps.clock()));
    }
  };
}

export const uiRoutes: Route[] = [
  { method: 'GET', path: '/', handler: asPage(async (deps) => page(200, statusPage(await listLinkSummaries(deps), deps.clock()))) },
  {
    method: 'GET',
    path: '/ui/links/:name',
    handler: asPage(async (deps, _req, p) => page(200, linkPage(await getLink(deps, p.name!), deps.clock()))),
  },
];

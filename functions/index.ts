// Entry points registered with functions-framework (names in names.ts, deployed by infra/).
// Each one decodes its trigger, calls a use-case and encodes the answer.
import './framework-errors.js';
import * as ff from '@google-cloud/functions-framework';
import { FUNCTION_NAMES } from './names.js';
import { handleApiRequest, rawBody, type ApiResponse, type Route } from './http-api.js';
import { toApiRequest } from './http-request.js';
import { runtimeDeps } from './runtime.js';
import './registration.js';
import { probeRoutes } from './probe.js';
import { rotationRoutes } from './rotation.js';
import { uiRoutes } from './ui.js';

/** Routes added by the local server (events that production receives through Pub/Sub). */
const localRoutes: Route[] = [];
export function addLocalRoutes(routes: Route[]): void {
  localRoutes.push(...routes);
}

function send(res: ff.Response, response: ApiResponse): void {
  res.status(response.status);
  for (const [name, value] of Object.entries(response.headers ?? {})) res.set(name, value);
  const raw = rawBody(response);
  if (response.body === undefined) res.end();
  else if (raw !== undefined) res.send(raw);
  else res.json(response.body);
}

ff.http(FUNCTION_NAMES.api, async (req, res) => {
  const request = toApiRequest(req);
  // No domain to leave: framework-errors.ts runs HTTP functions in none.
  const response = await handleApiRequest(await runtimeDeps(), request, [...rotationRoutes, ...probeRoutes, ...uiRoutes, ...localRoutes]);
  send(res, response);
});

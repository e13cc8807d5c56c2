// POST /links/{name}:probe: probes the link's server end now and answers the result, which the
// link's status (`probe`) shows from then on. Thin: the use-case is shared/app/probe.ts.
import { probeLink } from '../shared/app/probe.js';
import type { Route } from './http-api.js';

export const probeRoutes: Route[] = [
  {
    method: 'POST',
    path: '/links/:name\\:probe',
    handler: async (deps, _req, params) => ({ status: 200, body: await probeLink(deps, params.name!) }),
  },
];

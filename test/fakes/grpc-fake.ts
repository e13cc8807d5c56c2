// What every wire-level gRPC fake shares: the service loaded from the .proto files the client
// package ships, and a loopback server (port 0) that counts and records calls, injects failures
// and turns a handler's error into a gRPC status.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { MeshlinkError, type ErrorCode } from '../../shared/errors.js';

export type GrpcStatusName = keyof typeof grpc.status;

/** A decoded request message; each handler reads the fields its RPC defines. */
export type Request = Record<string, any>;

/** A handler answers the request or throws an RpcError (or a MeshlinkError) for a status. */
export type Handlers = Record<string, (req: Request) => unknown>;

export interface GrpcFake {
  port: number;
  /** Calls per RPC name, failed ones included. */
  calls: Record<string, number>;
  /** Every call received, in order, with its answer when it succeeded (test data only). */
  requests: { method: string; request: Request; response?: unknown }[];
  /** The next call of `method` fails with `code` instead of running (queued: call again for more). */
  failNext(method: string, code: GrpcStatusName, message?: string): void;
  /** The next call of `method` runs, then answers `code`: the client cannot know it was applied (a lost answer). */
  failAfterNext(method: string, code: GrpcStatusName, message?: string): void;
  /** Asks `decide` before each call (after the queued failures): a status fails the call without running it. */
  injectFailures(decide: ((method: string) => GrpcStatusName | undefined) | undefined): void;
  /** Drops the failures queued and not yet used. */
  clearFailures(): void;
  close(): Promise<void>;
}

export class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export const fail = (code: grpc.status, message: string) => new RpcError(code, message);

/**
 * `service` (e.g. google.pubsub.v1.Publisher) from `protoFile` as shipped by `clientPackage`, with
 * google/api etc. from the google-gax that package resolves (it ships no copy of its own).
 */
export function loadService(clientPackage: string, protoFile: string, service: string): grpc.ServiceDefinition {
  const require = createRequire(import.meta.url);
  const packageRoot = path.dirname(require.resolve(`${clientPackage}/package.json`));
  let gaxRoot = createRequire(path.join(packageRoot, 'package.json')).resolve('google-gax');
  while (path.basename(gaxRoot) !== 'google-gax') gaxRoot = path.dirname(gaxRoot);
  const definition = protoLoader.loadSync(protoFile, {
    includeDirs: [path.join(packageRoot, 'build', 'protos'), path.join(gaxRoot, 'build', 'protos')],
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = definition[service];
  if (!loaded) throw new Error(`${protoFile} defines no service ${service}`);
  return loaded as grpc.ServiceDefinition;
}

const STATUS_OF: Record<ErrorCode, grpc.status> = {
  'invalid-argument': grpc.status.INVALID_ARGUMENT,
  'not-found': grpc.status.NOT_FOUND,
  'already-exists': grpc.status.ALREADY_EXISTS,
  conflict: grpc.status.FAILED_PRECONDITION,
  'permission-denied': grpc.status.PERMISSION_DENIED,
  unavailable: grpc.status.UNAVAILABLE,
  'payload-too-large': grpc.status.INVALID_ARGUMENT,
  'unsupported-media-type': grpc.status.INVALID_ARGUMENT,
  internal: grpc.status.INTERNAL,
};

/** Serves `handlers` on 127.0.0.1, port 0; methods of `service` without a handler answer UNIMPLEMENTED. */
export async function startGrpcFake(service: grpc.ServiceDefinition, handlers: Handlers): Promise<GrpcFake> {
  const calls: Record<string, number> = {};
  const requests: GrpcFake['requests'] = [];
  const failures = new Map<string, { code: grpc.status; message: string; applied: boolean }[]>();
  let decide: ((method: string) => GrpcStatusName | undefined) | undefined;

  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [method, handle] of Object.entries(handlers)) {
    implementation[method] = (call: grpc.ServerUnaryCall<Request, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      calls[method] = (calls[method] ?? 0) + 1;
      const entry: GrpcFake['requests'][number] = { method, request: call.request };
      requests.push(entry);
      const injected = failures.get(method)?.shift();
      if (injected && !injected.applied) return callback({ code: injected.code, details: injected.message });
      const decided = injected ? undefined : decide?.(method);
      if (decided) return callback({ code: grpc.status[decided], details: `injected ${decided}` });
      Promise.resolve()
        .then(() => handle(call.request))
        .then(
          (response) => {
            if (injected) return callback({ code: injected.code, details: injected.message });
            entry.response = response;
            callback(null, response);
          },
          (err) => {
            if (err instanceof RpcError) return callback({ code: err.code, details: err.message });
            if (err instanceof MeshlinkError) return callback({ code: STATUS_OF[err.code], details: err.message });
            callback({ code: grpc.status.INTERNAL, details: `fake failed: ${String(err)}` });
          },
        );
    };
  }

  function queueFailure(method: string, code: GrpcStatusName, message: string | undefined, applied: boolean): void {
    if (!(method in handlers)) throw new Error(`the fake does not implement ${method}`);
    const queue = failures.get(method) ?? [];
    queue.push({ code: grpc.status[code], message: message ?? `injected ${code}`, applied });
    failures.set(method, queue);
  }

  const server = new grpc.Server();
  server.addService(service, implementation);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });

  return {
    port,
    calls,
    requests,
    failNext(method, code, message) {
      queueFailure(method, code, message, false);
    },
    failAfterNext(method, code, message) {
      queueFailure(method, code, message, true);
    },
    injectFailures(fn) {
      decide = fn;
    },
    clearFailures: () => {
      failures.clear();
      decide = undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        // Graceful first; a client that keeps a call open must not hang the test run.
        const force = setTimeout(() => server.forceShutdown(), 1000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

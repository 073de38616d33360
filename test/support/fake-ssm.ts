import { createHash } from 'node:crypto';
import { type FakeAnswer, type FakeRequest, type FakeServer, startFakeServer } from './fake-server.ts';

/**
 * A fake SSM Parameter Store (JSON 1.1 protocol: POST /, `content-type:
 * application/x-amz-json-1.1`, `x-amz-target: AmazonSSM.<Operation>`, errors as
 * `{"__type": "...", "message": "..."}`) for GetParameters and PutParameter, enforcing the
 * documented contract (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html,
 * .../API_PutParameter.html):
 *
 * - GetParameters: 1..10 names (else ValidationException); names it does not hold come back in
 *   InvalidParameters, the others in Parameters, in alphabetical order; a SecureString's value
 *   is decrypted only with WithDecryption (else a ciphertext that is not the value).
 * - PutParameter: Name, Value (1..4096 characters in the Standard tier) and, when creating, Type;
 *   an existing name without Overwrite is ParameterAlreadyExists.
 * - Every request is SigV4-signed for the `ssm` service (else 400 MissingAuthenticationToken).
 * - IAM, when `policies` is given: the access key id of the signature is the caller ("role");
 *   its list of allowed parameter ARNs (`*` matches any characters) must cover every name of a
 *   GetParameters call, else the whole call is refused with AccessDeniedException, as IAM does.
 *
 * Point a client at `url` (AWS_ENDPOINT_URL_SSM for a packaged bundle). Throttling and 5xx are
 * scripted with respondWith (see throttled() and internalError()).
 */

export const SSM_ACCOUNT = '000000000000';

export interface FakeParameter {
  type: 'String' | 'StringList' | 'SecureString';
  value: string;
  version: number;
}

export interface FakeSsmOptions {
  /** Initial parameters: full name -> value (a SecureString) or a FakeParameter. */
  parameters?: Record<string, string | Omit<FakeParameter, 'version'>>;
  /** Allowed parameter ARNs per access key id; absent: every caller may read everything. */
  policies?: Record<string, readonly string[]>;
}

export interface FakeSsm extends FakeServer {
  /** Full name -> parameter, as stored now. */
  readonly parameters: Map<string, FakeParameter>;
  /** The names of each GetParameters call that reached the store (after the signature check). */
  readonly getCalls: readonly { caller: string; names: string[]; withDecryption: boolean }[];
  /** The ARN of a parameter, as IAM sees it. */
  arn(name: string, region?: string): string;
  setPolicy(caller: string, allowed: readonly string[] | undefined): void;
}

/** Scripted answers for respondWith: SSM's throttling and its 5xx. */
export const throttled = (): FakeAnswer => ({
  status: 400,
  headers: { 'content-type': 'application/x-amz-json-1.1' },
  body: { __type: 'ThrottlingException', message: 'Rate exceeded' },
});
export const internalError = (): FakeAnswer => ({
  status: 500,
  headers: { 'content-type': 'application/x-amz-json-1.1' },
  body: { __type: 'InternalServerError', message: 'An internal error occurred' },
});

const STANDARD_MAX_VALUE = 4096;

export async function startFakeSsm(options: FakeSsmOptions = {}): Promise<FakeSsm> {
  const parameters = new Map<string, FakeParameter>();
  for (const [name, parameter] of Object.entries(options.parameters ?? {})) {
    parameters.set(
      name,
      typeof parameter === 'string'
        ? { type: 'SecureString', value: parameter, version: 1 }
        : { ...parameter, version: 1 },
    );
  }
  const policies = new Map(Object.entries(options.policies ?? {}));
  let enforce = options.policies !== undefined;
  const getCalls: { caller: string; names: string[]; withDecryption: boolean }[] = [];
  const arn = (name: string, region = 'us-east-1') => `arn:aws:ssm:${region}:${SSM_ACCOUNT}:parameter${name}`;

  const server = await startFakeServer({
    handle: (request) => {
      const error = (status: number, type: string, message: string): FakeAnswer => ({
        status,
        headers: { 'content-type': 'application/x-amz-json-1.1' },
        body: { __type: type, message },
      });
      if (request.method !== 'POST' || request.path !== '/')
        return error(404, 'UnknownOperationException', 'POST / only');
      if (!request.headers['content-type']?.startsWith('application/x-amz-json-1.1'))
        return error(400, 'SerializationException', 'content-type must be application/x-amz-json-1.1');
      const signature = signer(request);
      if (!signature)
        return error(400, 'MissingAuthenticationTokenException', 'Request is missing Authentication Token');
      const target = request.headers['x-amz-target'];
      const body = (request.body ?? {}) as Record<string, unknown>;
      // An answer scripted with respondWith (throttling, 5xx) wins over a valid call.
      if (target === 'AmazonSSM.GetParameters') return undefined;
      if (target === 'AmazonSSM.PutParameter') return putParameter(body, error);
      return error(400, 'UnknownOperationException', `operation ${target} is not faked`);
    },
    fallback: (request) => {
      const { caller, region } = signer(request) as { caller: string; region: string };
      const body = (request.body ?? {}) as { Names?: unknown; WithDecryption?: unknown };
      const error = (type: string, message: string): FakeAnswer => ({
        status: 400,
        headers: { 'content-type': 'application/x-amz-json-1.1' },
        body: { __type: type, message },
      });
      const names = body.Names;
      if (
        !Array.isArray(names) ||
        names.length === 0 ||
        names.some((n) => typeof n !== 'string' || n === '')
      ) {
        return error(
          'ValidationException',
          "1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length greater than or equal to 1",
        );
      }
      if (names.length > 10) {
        return error(
          'ValidationException',
          `1 validation error detected: Value '[${names.join(', ')}]' at 'names' failed to satisfy constraint: Member must have length less than or equal to 10`,
        );
      }
      if (enforce) {
        const allowed = policies.get(caller) ?? [];
        const refused = (names as string[]).find(
          (name) => !allowed.some((pattern) => matches(pattern, arn(name, region))),
        );
        if (refused !== undefined) {
          return error(
            'AccessDeniedException',
            `User: arn:aws:sts::${SSM_ACCOUNT}:assumed-role/${caller}/function is not authorized to perform: ssm:GetParameters on resource: ${arn(refused, region)} because no identity-based policy allows the ssm:GetParameters action`,
          );
        }
      }
      const withDecryption = body.WithDecryption === true;
      getCalls.push({ caller, names: [...(names as string[])], withDecryption });
      const unique = [...new Set(names as string[])];
      const found = unique.filter((name) => parameters.has(name)).sort();
      return {
        status: 200,
        headers: { 'content-type': 'application/x-amz-json-1.1' },
        body: {
          Parameters: found.map((name) => {
            const parameter = parameters.get(name) as FakeParameter;
            return {
              Name: name,
              Type: parameter.type,
              Value:
                parameter.type === 'SecureString' && !withDecryption
                  ? `AQICAH${createHash('sha256').update(parameter.value).digest('base64')}`
                  : parameter.value,
              Version: parameter.version,
              LastModifiedDate: 1_780_000_000,
              ARN: arn(name, region),
              DataType: 'text',
            };
          }),
          InvalidParameters: unique.filter((name) => !parameters.has(name)),
        },
      };
    },
  });

  function putParameter(
    body: Record<string, unknown>,
    error: (status: number, type: string, message: string) => FakeAnswer,
  ): FakeAnswer {
    const { Name: name, Value: value, Type: type, Overwrite: overwrite, Tier: tier } = body;
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.\-/]{1,1011}$/.test(name) || /^\/?(aws|ssm)/i.test(name))
      return error(400, 'ValidationException', 'Parameter name: invalid');
    if (typeof value !== 'string' || value.length === 0)
      return error(400, 'ValidationException', "Value at 'value' failed to satisfy constraint");
    if ((tier ?? 'Standard') === 'Standard' && value.length > STANDARD_MAX_VALUE)
      return error(
        400,
        'ValidationException',
        'Standard tier parameters support a maximum parameter value of 4096 characters',
      );
    const existing = parameters.get(name);
    if (existing && overwrite !== true)
      return error(
        400,
        'ParameterAlreadyExists',
        'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
      );
    if (!existing && !['String', 'StringList', 'SecureString'].includes(String(type)))
      return error(400, 'ValidationException', 'A parameter type is required when you create a parameter.');
    const version = (existing?.version ?? 0) + 1;
    parameters.set(name, { type: (type ?? existing?.type) as FakeParameter['type'], value, version });
    return {
      status: 200,
      headers: { 'content-type': 'application/x-amz-json-1.1' },
      body: { Version: version, Tier: tier ?? 'Standard' },
    };
  }

  return Object.assign(server, {
    parameters,
    getCalls,
    arn,
    setPolicy(caller: string, allowed: readonly string[] | undefined) {
      enforce = true;
      if (allowed === undefined) policies.delete(caller);
      else policies.set(caller, allowed);
    },
  });
}

/** The caller (access key id) and region of a SigV4 signature for `ssm`, or undefined. */
function signer(request: FakeRequest): { caller: string; region: string } | undefined {
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([a-z0-9-]+)\/ssm\/aws4_request,/.exec(
    request.headers.authorization ?? '',
  );
  return match ? { caller: match[1], region: match[2] } : undefined;
}

/** An IAM resource pattern: `*` matches any run of characters, `?` one. */
function matches(pattern: string, arn: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`).test(arn);
}

import { type CfnResource, getAtt } from './cloudformation.ts';
import type { DeploymentSettings } from './deployment.ts';
import type { FragmentGenerator } from './fragment-generator.ts';
import { SHARED } from './names.ts';

/** The stage osls creates for an `httpApi` event (lib/plugins/aws/lib/naming.js, getHttpApiStageLogicalId). */
export const HTTP_API_STAGE_LOGICAL_ID = 'HttpApiStage';

/** The HTTP API stage's access log group (one line per request, rejected or not). */
export const ACCESS_LOG_GROUP_LOGICAL_ID = 'HttpApiAccessLogGroup';

/**
 * One compact JSON line per request: who (source IP), what (route), the answer (status) and how
 * long it took, and why an integration failed (Lambda's own status, e.g. 429 when ingest was
 * throttled, and its error message). Values are quoted: API Gateway writes `-` for a missing one.
 * `requestId` is the Lambda event's requestContext.requestId, so a line joins ingest's own log.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
 */
export const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  route: '$context.routeKey',
  status: '$context.status',
  latencyMs: '$context.responseLatency',
  lambdaStatus: '$context.integrationStatus',
  integrationError: '$context.integrationErrorMessage',
  error: '$context.error.message',
});

/**
 * The HTTP API's `$default` stage: access logs, and deliberately NO throttling. A stage (or
 * route) throttle answers 429 before the bearer token is checked, and Alertmanager drops a 429,
 * so anyone who found the URL could drain the bucket and make Alertmanager lose notifications;
 * the ingest function's reserved concurrency bounds a flood instead, with a 5xx Alertmanager
 * retries (lib/infra/constants.ts). osls creates the stage; a resource of the same logical id in
 * `resources:` is merged into it, so only AccessLogSettings is given.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-apigatewayv2-stage.html
 */
export function httpApiStage(): CfnResource {
  return {
    Type: 'AWS::ApiGatewayV2::Stage',
    Properties: {
      AccessLogSettings: {
        DestinationArn: getAtt(ACCESS_LOG_GROUP_LOGICAL_ID, 'Arn'),
        Format: ACCESS_LOG_FORMAT,
      },
    },
  };
}

/** Where the stage writes its access log, kept `ingest.accessLogRetentionDays` (default 14). */
export function accessLogGroup(deployment: DeploymentSettings): CfnResource {
  return {
    Type: 'AWS::Logs::LogGroup',
    Properties: {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: osls variables, resolved at package time
      LogGroupName: '/aws/http-api/${self:service}-${sls:stage}-access',
      RetentionInDays: deployment.ingest.accessLogRetentionDays,
    },
  };
}

/**
 * Per destination and alert group: what was delivered and each sink's handle (lib/state/).
 * On demand, keyed by `pk`, expired by DynamoDB on `expiresAt`. Point-in-time recovery only
 * when relay.yaml asks (`state.pointInTimeRecovery`): every item expires within 30 days and a
 * lost delivery record costs at most one repeated delivery.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-dynamodb-table.html
 */
export function stateTable(deployment: DeploymentSettings): CfnResource {
  return {
    Type: 'AWS::DynamoDB::Table',
    Properties: {
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: deployment.pointInTimeRecovery },
    },
  };
}

/** The HTTP API stage's access log and the state table. */
export const sharedResources: FragmentGenerator = (_sinks, _constants, deployment) => ({
  functions: {},
  resources: {
    [HTTP_API_STAGE_LOGICAL_ID]: httpApiStage(),
    [ACCESS_LOG_GROUP_LOGICAL_ID]: accessLogGroup(deployment),
    [SHARED.stateTable]: stateTable(deployment),
  },
  outputs: {},
});

import type { CfnResource } from './cloudformation.ts';
import type { DeploymentSettings } from './deployment.ts';
import type { FragmentGenerator } from './fragment-generator.ts';
import { SHARED } from './names.ts';

/** The stage osls creates for an `httpApi` event (lib/plugins/aws/lib/naming.js, getHttpApiStageLogicalId). */
export const HTTP_API_STAGE_LOGICAL_ID = 'HttpApiStage';

/**
 * Throttling of the HTTP API's `$default` stage. osls creates the stage; a resource of the
 * same logical id in `resources:` is merged into it, so only DefaultRouteSettings is given.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-apigatewayv2-stage-routesettings.html
 */
export function httpApiStageThrottling(deployment: DeploymentSettings): CfnResource {
  return {
    Type: 'AWS::ApiGatewayV2::Stage',
    Properties: {
      DefaultRouteSettings: {
        ThrottlingRateLimit: deployment.ingest.rateLimit,
        ThrottlingBurstLimit: deployment.ingest.burstLimit,
      },
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

/** The HTTP API stage's throttling and the state table. */
export const sharedResources: FragmentGenerator = (_sinks, _constants, deployment) => ({
  functions: {},
  resources: {
    [HTTP_API_STAGE_LOGICAL_ID]: httpApiStageThrottling(deployment),
    [SHARED.stateTable]: stateTable(deployment),
  },
  outputs: {},
});

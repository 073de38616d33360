/** The small part of CloudFormation and serverless.yml that lib/infra writes. */

export type Ref = { Ref: string };
export type GetAtt = { 'Fn::GetAtt': [string, string] };
export type Sub = { 'Fn::Sub': string };
export type CfnValue = string | number | boolean | Ref | GetAtt | Sub;

export interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string[];
  Condition?: string;
}

export interface CfnOutput {
  Description: string;
  Value: CfnValue;
}

export interface PolicyStatement {
  Effect: 'Allow';
  Action: string[];
  Resource: CfnValue[];
  /** `{ operator: { key: values } }`, e.g. `{ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['watchdog#*'] } }`. */
  Condition?: Record<string, Record<string, string | string[]>>;
}

/** A function as serverless.yml's `functions:` section takes it. */
export interface ServerlessFunction {
  handler: string;
  description: string;
  runtime: string;
  architecture: string;
  timeout: number;
  memorySize: number;
  /** ReservedConcurrentExecutions: the function's reserved share and its ceiling. */
  reservedConcurrency?: number;
  logRetentionInDays: number;
  /** Logical id of an AWS::IAM::Role in the same template. */
  role: string;
  environment: Record<string, CfnValue>;
  package: { patterns: string[] };
  events?: Record<string, unknown>[];
  /** Retries of an asynchronous invocation (an EventBridge schedule's): osls's AWS::Lambda::EventInvokeConfig. */
  maximumRetryAttempts?: number;
}

/** What a generator contributes to serverless.yml (functions) and its `resources:` section. */
export interface ServerlessFragment {
  functions: Record<string, ServerlessFunction>;
  resources: Record<string, CfnResource>;
  outputs: Record<string, CfnOutput>;
}

export function ref(logicalId: string): Ref {
  return { Ref: logicalId };
}

export function getAtt(logicalId: string, attribute: string): GetAtt {
  return { 'Fn::GetAtt': [logicalId, attribute] };
}

/**
 * An execution role that may write to its own log group and do `statements`, nothing else.
 * The log group is the one osls creates for the function (`<Function>LogGroup`); its Arn
 * attribute ends in `:*`, which covers the streams in it.
 */
export function lambdaRole(logGroupLogicalId: string, statements: PolicyStatement[]): CfnResource {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      },
      Policies: [
        {
          PolicyName: 'least-privilege',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                Resource: [getAtt(logGroupLogicalId, 'Arn')],
              },
              ...statements,
            ],
          },
        },
      ],
    },
  };
}

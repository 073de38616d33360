import type { Notification } from '../../../lib/alertmanager/types.ts';
import { makeNotification } from '../../support/notifications.ts';

/**
 * A group of real-shaped alerts, as kube-prometheus's KubePodCrashLooping sends them: ten labels
 * each, a `description` of about 600 characters (no `summary`), a runbook and a generatorURL
 * with its PromQL. Forty of them are far over one Google Chat message.
 */

const RUNBOOK = 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping';
const GRAPH =
  'http://prometheus:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%7Breason%3D%22CrashLoopBackOff%22%2Cjob%3D%22kube-state-metrics%22%7D%5B5m%5D%29+%3E%3D+1&g0.tab=1';

/** The labels of alert `i`: alertname and nine more. */
export function largeGroupLabels(i: number): Record<string, string> {
  return {
    alertname: 'KubePodCrashLooping',
    cluster: 'prod-eu-west-1',
    container: `payments-api-${i}`,
    instance: `10.42.${i}.17:8080`,
    job: 'kube-state-metrics',
    namespace: 'payments',
    pod: `payments-api-7d9f8c6b5-${(i * 7919 + 10_000).toString(36)}`,
    region: 'eu-west-1',
    service: 'kube-prometheus-stack-kube-state-metrics',
    severity: 'warning',
  };
}

function description(i: number): string {
  const labels = largeGroupLabels(i);
  const text = [
    `Pod ${labels.namespace}/${labels.pod} (${labels.container}) is in waiting state (reason: "CrashLoopBackOff")`,
    'and has restarted 14 times in the last 30 minutes. The container exits with code 137 shortly after start:',
    'the kubelet killed it for going over its memory limit of 512Mi while warming the payment-provider cache.',
    'Customers see intermittent 503s on checkout while the replica count stays below the HPA minimum of 6.',
    'Check recent deploys of the payments chart, the node pool memory pressure, and the provider sandbox status.',
    'Escalate to the payments on-call if the error budget burn rate stays over 14.4 for 5 minutes.',
  ].join(' ');
  return text.padEnd(600, ' See the runbook.');
}

/** `count` firing alerts of one group (KubePodCrashLooping), each with its own pod. */
export function largeGroup(count = 40): Notification {
  const notification = makeNotification({
    count,
    groupKey: '{}/{severity="warning"}:{alertname="KubePodCrashLooping"}',
    labels: largeGroupLabels,
  });
  for (const [i, alert] of notification.alerts.entries()) {
    alert.annotations = { description: description(i), runbook_url: RUNBOOK };
    alert.generatorURL = GRAPH;
  }
  notification.groupLabels = { alertname: 'KubePodCrashLooping' };
  const { container: _c, instance: _i, pod: _p, ...common } = largeGroupLabels(0);
  notification.commonLabels = common;
  notification.commonAnnotations = { runbook_url: RUNBOOK };
  return notification;
}

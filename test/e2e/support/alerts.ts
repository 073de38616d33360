/** An alert as Alertmanager's `POST /api/v2/alerts` takes it (what Prometheus or amtool send). */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

/**
 * Posts firing alerts straight to Alertmanager, as `amtool alert add` does. startsAt is set
 * here (now, unless given) and returned, so resolveAlerts can send the same alert back.
 */
export async function postAlerts(alertmanagerUrl: string, alerts: PostableAlert[]): Promise<PostableAlert[]> {
  const startsAt = new Date().toISOString();
  const firing = alerts.map((alert) => ({
    ...alert,
    startsAt: alert.startsAt ?? startsAt,
    endsAt: undefined,
  }));
  await post(alertmanagerUrl, firing);
  return firing;
}

/**
 * Resolves alerts: the same labels and startsAt with endsAt now, which is in the past by the
 * time Alertmanager flushes the group. (Not earlier than now: endsAt before startsAt is a 400.)
 */
export async function resolveAlerts(
  alertmanagerUrl: string,
  alerts: PostableAlert[],
): Promise<PostableAlert[]> {
  const endsAt = new Date().toISOString();
  const resolved = alerts.map((alert) => ({ ...alert, endsAt }));
  await post(alertmanagerUrl, resolved);
  return resolved;
}

/**
 * Fires resolved alerts again with IDENTICAL content: the same labels and startsAt, no endsAt,
 * as when Prometheus restores an alert's startsAt after a restart or a rule reload. Alertmanager
 * does not merge it into the resolved one (their active ranges do not overlap), so its next
 * notification carries the same fingerprint, startsAt and endsAt as the first firing did.
 */
export async function refireAlerts(
  alertmanagerUrl: string,
  alerts: PostableAlert[],
): Promise<PostableAlert[]> {
  const firing = alerts.map((alert) => ({ ...alert, endsAt: undefined }));
  await post(alertmanagerUrl, firing);
  return firing;
}

async function post(alertmanagerUrl: string, alerts: PostableAlert[]): Promise<void> {
  const response = await fetch(`${alertmanagerUrl}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alerts),
  });
  if (!response.ok) {
    throw new Error(`Alertmanager refused the alerts: HTTP ${response.status} ${await response.text()}`);
  }
}

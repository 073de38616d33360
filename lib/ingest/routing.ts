import { type Matcher, matchesAll, parseMatcher } from '../alertmanager/matchers.ts';
import type { Notification } from '../alertmanager/types.ts';
import type { DestinationConfig, RelayConfig } from '../config/types.ts';

export interface Route {
  destination: DestinationConfig;
  matchers: Matcher[];
}

/** One destination's share of a notification: only its matching alerts. */
export interface RoutedNotification {
  destination: DestinationConfig;
  notification: Notification;
}

/** Parses every destination's matchers once (the config was validated, so they parse). */
export function compileRoutes(config: RelayConfig): Route[] {
  return config.destinations.map((destination) => ({
    destination,
    matchers: (destination.matchers ?? []).map((m) => parseMatcher(m)),
  }));
}

/**
 * Evaluates every destination's matchers (ANDed) against each alert's labels. A destination
 * gets the notification with only its matching alerts, its status recomputed (firing if any
 * alert fires); a destination that matches no alert gets nothing.
 */
export function routeNotification(
  notification: Notification,
  routes: readonly Route[],
): RoutedNotification[] {
  const routed: RoutedNotification[] = [];
  for (const route of routes) {
    const alerts =
      route.matchers.length === 0
        ? notification.alerts
        : notification.alerts.filter((alert) => matchesAll(route.matchers, alert.labels));
    if (alerts.length === 0) continue;
    routed.push({
      destination: route.destination,
      notification:
        alerts.length === notification.alerts.length
          ? notification
          : {
              ...notification,
              alerts,
              status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
            },
    });
  }
  return routed;
}

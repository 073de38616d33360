import type { Notification } from '../../alertmanager/types.ts';
import type { Delivery } from '../../delivery/sink.ts';
import { renderDeliveryTemplates } from '../../templates/destination.ts';
import { SLACK_TEMPLATES, type SlackDestination } from './config.ts';

/**
 * A Slack destination's `templates:` rendered for one delivery. The two keys go into different
 * Block Kit text types: `title` into the header, which is plain_text (SLACK_TEMPLATES gives it
 * the text format: control and bidi characters out, nothing else to escape), and `text` into
 * the summary section, which is mrkdwn (values escaped as mrkdwn).
 */

/** What buildGroupMessage takes as `templated`: the rendered keys and the notes of failed ones (mrkdwn). */
export function renderSlackTemplates(
  delivery: Pick<Delivery<SlackDestination>, 'destination' | 'part' | 'logger' | 'count'>,
  notification: Notification,
  now: number,
): { title?: string; text?: string; notes: string[] } {
  const { destination } = delivery;
  if (!destination.templates) return { notes: [] };
  const { values, notes } = renderDeliveryTemplates({ ...delivery, notification }, SLACK_TEMPLATES, { now });
  return {
    ...(values.title === undefined ? {} : { title: values.title }),
    ...(values.text === undefined ? {} : { text: values.text }),
    notes,
  };
}

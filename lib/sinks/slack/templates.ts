import type { Notification } from '../../alertmanager/types.ts';
import type { Delivery } from '../../delivery/sink.ts';
import { mrkdwn } from '../../format/mrkdwn.ts';
import { templateData } from '../../templates/data.ts';
import { renderDestinationTemplates, type TemplateSpec } from '../../templates/destination.ts';
import type { SlackDestination } from './config.ts';

/**
 * A Slack destination's `templates:` rendered for one delivery. The two keys go into different
 * Block Kit text types: `title` into the header, which is plain_text (Slack shows it as typed,
 * so it renders with the text format: control and bidi characters out, nothing else to
 * escape), and `text` into the summary section, which is mrkdwn (values escaped as mrkdwn).
 * The engine takes one format per destination and key set, so each key renders through a
 * view of the destination holding only that key, made once per destination object.
 */

const TITLE: TemplateSpec = { keys: ['title'], format: 'text' };
const TEXT: TemplateSpec = { keys: ['text'], format: 'mrkdwn' };

const views = new WeakMap<object, { title?: SlackDestination; text?: SlackDestination }>();

function viewsOf(destination: SlackDestination): { title?: SlackDestination; text?: SlackDestination } {
  let found = views.get(destination);
  if (!found) {
    const { title, text } = destination.templates ?? {};
    found = {
      ...(title === undefined ? {} : { title: { ...destination, templates: { title } } }),
      ...(text === undefined ? {} : { text: { ...destination, templates: { text } } }),
    };
    views.set(destination, found);
  }
  return found;
}

/** What buildGroupMessage takes as `templated`: the rendered keys and the notes of failed ones (mrkdwn). */
export function renderSlackTemplates(
  delivery: Pick<Delivery<SlackDestination>, 'destination' | 'part' | 'logger' | 'count'>,
  notification: Notification,
  now: number,
): { title?: string; text?: string; notes: string[] } {
  const { destination } = delivery;
  if (!destination.templates) return { notes: [] };
  const { title: titleView, text: textView } = viewsOf(destination);
  const data = templateData(notification, destination, { part: delivery.part });
  const reporter = delivery;
  const title = titleView
    ? renderDestinationTemplates(titleView, TITLE, data, reporter, { now })
    : { values: {}, notes: [] };
  const text = textView
    ? renderDestinationTemplates(textView, TEXT, data, reporter, { now })
    : { values: {}, notes: [] };
  return {
    ...(title.values.title === undefined ? {} : { title: title.values.title }),
    ...(text.values.text === undefined ? {} : { text: text.values.text }),
    // The title's note was cleaned as plain text: escaped for the mrkdwn context it goes into.
    notes: [...title.notes.map((note) => mrkdwn(note)), ...text.notes],
  };
}

import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebhookSink, type WebhookDestination } from '../../../lib/sinks/webhook/webhook.ts';
import { makeNotification } from '../../support/notifications.ts';
import { vendorDelivery } from '../../support/vendor-delivery.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/webhook-receiver.ts';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const TEAM = 'db "ops" \\ {x}';

describe('Sink: webhook (templates, at a Standard Webhooks receiver)', () => {
  let receiver: WebhookReceiver;

  afterEach(async () => {
    await receiver.close();
  });

  async function deliver(
    templates: WebhookDestination['templates'],
    options: { team?: string; verify?: boolean } = {},
  ) {
    // The receiver verifies with the standardwebhooks library, which also parses the body as JSON.
    receiver = await startWebhookReceiver(options.verify === false ? {} : { secret: SECRET });
    const destination: WebhookDestination = {
      name: 'receiver',
      sink: 'webhook',
      url: receiver.url,
      signingSecret: 'SIGNING_KEY',
      templates,
    };
    const notification = makeNotification({ count: 2, labels: () => ({ team: options.team ?? TEAM }) });
    const counted: string[] = [];
    await createWebhookSink().deliver({
      ...vendorDelivery(destination, notification, { secrets: { SIGNING_KEY: SECRET } }),
      count: (name) => void counted.push(name),
    });
    const [request] = await receiver.waitFor(1);
    return { request, counted, notification };
  }

  it('should deliver the rendered JSON body, signed, label values JSON-escaped', async () => {
    // Act
    const { request, counted } = await deliver({
      body: '{"text": "{{ status | upcase }} {{ commonLabels.alertname }}", "hosts": [{% for a in alerts %}{% unless forloop.first %},{% endunless %}{"instance": "{{ a.labels.instance }}", "team": "{{ a.labels.team }}"}{% endfor %}]}',
    });

    // Assess
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.body).toEqual({
      text: 'FIRING HighLatency',
      hosts: [
        { instance: 'web-0:9100', team: TEAM },
        { instance: 'web-1:9100', team: TEAM },
      ],
    });
    // The receiver verified it with the standardwebhooks library; so does the test.
    expect(request.verified).toBe(true);
    const headers = {
      'webhook-id': request.headers['webhook-id'],
      'webhook-timestamp': request.headers['webhook-timestamp'],
      'webhook-signature': request.headers['webhook-signature'],
    };
    expect(new Webhook(SECRET).verify(request.rawBody, headers)).toEqual(request.body);
    expect(counted).toEqual([]);
  });

  it('should deliver a text body with its content type, values without controls, signed over the exact bytes', async () => {
    // Act
    const { request } = await deliver(
      {
        body: '{% for a in alerts %}{{ a.labels.instance }} {{ a.labels.team }}\n{% endfor %}',
        contentType: 'text/plain; charset=utf-8',
      },
      { team: 'db\u001b[2J\u202e\u009b2Jops', verify: false },
    );

    // Assess
    expect(request.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(request.rawBody).toBe('web-0:9100 dbops\nweb-1:9100 dbops\n');
    const id = request.headers['webhook-id'];
    const timestamp = new Date(Number(request.headers['webhook-timestamp']) * 1000);
    expect(request.headers['webhook-signature']).toBe(
      new Webhook(SECRET).sign(id, timestamp, request.rawBody),
    );
  });

  it('should send the default JSON body with templateFailed when the body does not render valid JSON', async () => {
    // Act
    const { request, counted, notification } = await deliver({ body: '{"broken": {{ status }}' });

    // Assess
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.verified).toBe(true);
    expect(request.body).toEqual({
      ...notification,
      templateFailed: '(template "body" failed: the rendered body is not valid JSON; showing the default)',
    });
    expect(counted).toEqual(['TemplateFailed']);
  });
});

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type FakeSlack, signSlackRequest, startFakeSlack } from './index';

// The fake is only useful if it speaks like Slack: the signature vector is the one Slack's
// "Verifying requests from Slack" guide documents.
let slack: FakeSlack;

beforeAll(async () => {
  slack = await startFakeSlack();
});

afterAll(async () => {
  await slack.close();
});

describe('fake Slack Web API', () => {
  test("signs interactivity payloads exactly as Slack's documented example", () => {
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    const headers = signSlackRequest('8f742231b10e8888abcd99yyyzzz85a5', body, 1531420618);
    expect(headers['x-slack-signature']).toBe(
      'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
    );
    expect(headers['x-slack-request-timestamp']).toBe('1531420618');
  });

  test('records chat.postMessage, and answers 429 with Retry-After when told to', async () => {
    const post = (text: string) =>
      fetch(`${slack.apiUrl}chat.postMessage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer xoxb-test' },
        body: JSON.stringify({ channel: 'C1', text }),
      });
    const first = await post('hello');
    expect(first.status).toBe(200);
    expect(((await first.json()) as { ok: boolean }).ok).toBe(true);
    slack.rateLimit(1, 3);
    const limited = await post('again');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    const calls = await slack.waitFor('chat.postMessage', 2);
    expect(calls.map((call) => call.args.text)).toEqual(['hello', 'again']);
  });
});

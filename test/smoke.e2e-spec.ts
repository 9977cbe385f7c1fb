import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, startExampleApp, STORES } from './support/example-app';

describe.each(STORES)('example app on the %s store', (store) => {
  let example: ExampleApp;
  beforeAll(async () => {
    example = await startExampleApp(store);
  });
  afterAll(() => example?.close());

  it('logs alice in and serves /me with her claims', async () => {
    const { access_token } = await example.login('alice');
    const me = await example.http().get('/me').set('Authorization', `Bearer ${access_token}`).expect(200);
    expect(me.body.sub).toBe('alice');
    expect(me.body.roles).toEqual(['admin']);
  });
});

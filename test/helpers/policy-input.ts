/** Policy inputs for unit tests of the policy engine. */
import type { PolicyInput } from '../../src/policy/types';

/** A body-less GET of `path` to https://api.example.com (on `port`) by agent `bot` in vault `v`. */
export function pathInput(path: string, port = 443): PolicyInput {
  return {
    agent: { name: 'bot', id: null },
    vault: 'v',
    request: {
      method: 'GET',
      scheme: 'https',
      host: 'api.example.com',
      port,
      path,
      query: {},
      headers: {},
      bodySize: 0,
    },
    service: null,
    time: { hour: 1, weekday: 'Monday' },
  };
}

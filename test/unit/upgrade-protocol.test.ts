/** Which Upgrade header values the tunnel relays: exactly one protocol, `websocket`, any case. */
import { isWebSocketUpgrade } from '../../src/proxy/upgrade';

describe('isWebSocketUpgrade', () => {
  it.each([['websocket'], ['WebSocket'], [' websocket '], ['websocket,'], [['websocket']]])(
    'relays %j',
    (value) => expect(isWebSocketUpgrade(value)).toBe(true),
  );

  it.each([
    [undefined],
    [''],
    ['h2c'],
    ['websocket, h2c'],
    ['h2c, websocket'],
    [['websocket', 'h2c']],
    ['websocket/13'],
    ['websockets'],
    ['TLS/1.2'],
  ])('refuses %j', (value) => expect(isWebSocketUpgrade(value)).toBe(false));
});

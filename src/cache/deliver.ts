/**
 * Calls one subscriber's handler so that its failure stays its own: a throw, or a rejection
 * from an async handler, is logged and never reaches the other subscribers or the process.
 */
import type { Logger } from '../observability/types';
import type { MessageHandler } from './types';

export function deliverMessage(
  handler: MessageHandler,
  message: string,
  channel: string,
  logger: Logger,
): void {
  const fail = (error: unknown): void =>
    logger.error('cache subscriber failed on a message', { channel, error: String(error) });
  try {
    const result: unknown = handler(message);
    if (result instanceof Promise) result.catch(fail);
  } catch (error) {
    fail(error);
  }
}

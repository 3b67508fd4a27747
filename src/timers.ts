/** setTimeout and clearTimeout as a value: tests inject timers that fire without waiting. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

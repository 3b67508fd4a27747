/**
 * System.CircuitBreaker, checked when the breakers are built: whole numbers in range and a known
 * Scope, so that a bad value fails start-up with VEC_CONFIG_INVALID instead of a broken circuit.
 */
import type { CircuitBreakerConfig } from '../config/schema';
import { GatewayError } from '../errors';

const KEY = 'System.CircuitBreaker';
/** The longest delay setTimeout accepts (2^31 - 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

export interface CircuitSettings {
  threshold: number;
  windowMs: number;
  resetMs: number;
  percentage: number;
  /** Scope VaultOrigin: one circuit per vault and origin, not per origin. */
  byVault: boolean;
}

export function circuitSettings(config: CircuitBreakerConfig): CircuitSettings {
  return {
    threshold: whole(config, 'FailureThreshold', 1),
    windowMs: whole(config, 'WindowSeconds', 1) * 1000,
    resetMs: whole(config, 'ResetTimeoutSeconds', 1) * 1000,
    percentage: whole(config, 'ErrorPercentage', 0),
    byVault: scopeOf(config) === 'VaultOrigin',
  };
}

function scopeOf(config: CircuitBreakerConfig): CircuitBreakerConfig['Scope'] {
  // Absent in configs built by hand (tests, embedders): the default.
  const scope = config?.Scope ?? 'VaultOrigin';
  if (scope !== 'VaultOrigin' && scope !== 'Origin') {
    throw new GatewayError(
      'VEC_CONFIG_INVALID',
      `${KEY}.Scope must be VaultOrigin or Origin (got ${String(scope)}).`,
      { context: { key: `${KEY}.Scope`, envVar: 'System__CircuitBreaker__Scope' } },
    );
  }
  return scope;
}

/** The field, checked: a whole number from `min`; a percentage up to 100, seconds up to a timer's limit. */
function whole(
  config: CircuitBreakerConfig,
  field: Exclude<keyof CircuitBreakerConfig, 'Scope'>,
  min: number,
) {
  const value = config?.[field];
  const max = field === 'ErrorPercentage' ? 100 : Math.floor(MAX_TIMER_MS / 1000);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new GatewayError(
      'VEC_CONFIG_INVALID',
      `${KEY}.${field} must be a whole number from ${min} to ${max} (got ${String(value)}).`,
      { context: { key: `${KEY}.${field}`, envVar: `System__CircuitBreaker__${field}` } },
    );
  }
  return value;
}

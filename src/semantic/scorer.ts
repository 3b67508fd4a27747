/**
 * The scorer `Semantic.DefaultProvider` names, built from the `Semantic` slice of the config.
 * The Internal scorer is always built: it is the OpenAi provider's floor and fallback.
 */
import type { SemanticConfig } from '../config/schema';
import type { Logger } from '../observability/types';
import type { Timers } from '../timers';
import type { DenialHistory } from './denials';
import { createInternalScorer } from './internal-scorer';
import { createOpenAiScorer } from './openai-scorer';
import type { RiskScorer } from './types';

export interface RiskScorerDeps {
  logger: Logger;
  denials?: Pick<DenialHistory, 'recentDenials' | 'windowMs'>;
  timers?: Timers;
}

export function createRiskScorer(config: SemanticConfig, deps: RiskScorerDeps): RiskScorer {
  const internal = createInternalScorer({ denials: deps.denials });
  if (config.DefaultProvider !== 'OpenAi') return internal;
  const openAi = config.Providers.OpenAi;
  return createOpenAiScorer(
    {
      apiKey: openAi.ApiKey,
      model: openAi.Model,
      baseUrl: openAi.BaseUrl,
      timeoutMs: openAi.TimeoutMilliseconds,
    },
    { fallback: internal, logger: deps.logger, timers: deps.timers },
  );
}

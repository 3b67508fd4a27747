# Vectra's decision, for Policy.DefaultProvider=Opa with Policy.Providers.Opa.Path=vectra/authz
# (the default). Vectra POSTs {"input": PolicyInput} to /v1/data/vectra/authz and reads this
# package's document: effect ("Allow", "Deny" or "Hitl"), reason, policy, and rule and risk when
# defined (src/policy/opa-engine.ts, docs/policies.md). The document holds nothing else: the
# work is done in data.vectra.combined and data.vectra.shipped.
package vectra.authz

import rego.v1

import data.vectra.combined

effect := combined.decision.effect

reason := combined.decision.reason

policy := combined.decision.policy

rule := combined.decision.rule

risk := combined.risk

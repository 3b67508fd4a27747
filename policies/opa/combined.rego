# The outcomes of the policies in data.vectra.shipped, combined as Vectra's Internal provider
# combines its JSON policies (src/policy/evaluate.ts): deny-overrides (Deny, then Hitl, then
# Allow); among outcomes of the same effect one decided by a rule beats a default, then the
# earlier policy wins; the risk is the highest risk of every rule that matched; and a request
# no policy applies to is refused.
package vectra.combined

import rego.v1

import data.vectra.shipped

# None of the shipped policies has appliesTo, so each applies to every request.
applicable := shipped.outcomes

risks := [r | some o in applicable; r := o.risk]

risk := max(risks) if count(risks) > 0

severity := {"Allow": 0, "Hitl": 1, "Deny": 2}

# Higher wins: the effect first, then a rule's outcome over a default's.
rank(o) := (2 * severity[o.effect]) + 1 if {
	o.rule
} else := 2 * severity[o.effect]

top := max([rank(o) | some o in applicable])

# The earliest outcome of the highest rank.
winner := min([i | some i, o in applicable; rank(o) == top])

decision := applicable[winner] if count(applicable) > 0

decision := {
	"effect": "Deny",
	"reason": sprintf("No policy applies to agent %s in vault %s, and a request no policy covers is refused.", [agent_label, vault_label]),
} if count(applicable) == 0

agent_label := input.agent.name if {
	is_string(input.agent.name)
} else := input.agent.id if {
	is_string(input.agent.id)
} else := "(unnamed)"

vault_label := input.vault if {
	is_string(input.vault)
} else := "(none)"

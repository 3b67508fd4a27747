# The three policies Vectra ships as JSON (policies/*.json), one outcome each, judged the way
# the Internal provider judges them (src/policy/evaluate.ts): within a policy the rules are
# tried highest priority first and the first whose conditions all hold decides, else the
# policy's default does. request.method and request.host are compared ignoring case (Vectra
# normalises them), and approval-for-exports ignores case file-wide ("defaults").
#
# An outcome is {policy, effect, reason} plus rule and risk when a rule decided; the reasons
# are the Internal provider's, word for word: "Policy <p> (rule <r>): <reason>." and
# "Policy <p> (no rule matched): <defaultReason>." (or "its default is <effect>.").
# A change to policies/*.json must be made here too: test/integration/opa-bundle.test.ts
# compares the two providers request by request.
package vectra.shipped

import rego.v1

# File order (Vectra reads policies/*.json sorted by name): ties between outcomes of the same
# effect go to the earlier policy.
outcomes := [
	approval_for_exports,
	no_destructive_verbs_on_production,
	read_only_by_default,
]

# approval-for-exports.json: any path containing /export, in any letter case, waits for a
# human; otherwise this policy allows (the others decide).
approval_for_exports := {
	"policy": "approval-for-exports",
	"effect": "Hitl",
	"rule": "exports-need-approval",
	"reason": "Policy approval-for-exports (rule exports-need-approval): Exports move data in bulk, so a human approves each one.",
	"risk": 0.7,
} if {
	contains(lower(input.request.path), "/export")
} else := {
	"policy": "approval-for-exports",
	"effect": "Allow",
	"reason": "Policy approval-for-exports (no rule matched): its default is Allow.",
}

# no-destructive-verbs-on-production.json: DELETE on a host matching the glob *.prod.* or
# *.production.* (a Vectra glob's * is any run of characters but /) is denied.
no_destructive_verbs_on_production := {
	"policy": "no-destructive-verbs-on-production",
	"effect": "Deny",
	"rule": "no-delete-on-prod-hosts",
	"reason": "Policy no-destructive-verbs-on-production (rule no-delete-on-prod-hosts): DELETE is never allowed on production hosts.",
	"risk": 1,
} if {
	lower(input.request.method) == "delete"
	regex.match(`^[^/]*\.prod\.[^/]*$`, lower(input.request.host))
} else := {
	"policy": "no-destructive-verbs-on-production",
	"effect": "Deny",
	"rule": "no-delete-on-production-hosts",
	"reason": "Policy no-destructive-verbs-on-production (rule no-delete-on-production-hosts): DELETE is never allowed on production hosts.",
	"risk": 1,
} if {
	lower(input.request.method) == "delete"
	regex.match(`^[^/]*\.production\.[^/]*$`, lower(input.request.host))
} else := {
	"policy": "no-destructive-verbs-on-production",
	"effect": "Allow",
	"reason": "Policy no-destructive-verbs-on-production (no rule matched): its default is Allow.",
}

# read-only-by-default.json: reads are allowed, anything else waits for a human.
read_only_by_default := {
	"policy": "read-only-by-default",
	"effect": "Allow",
	"rule": "reads-are-allowed",
	"reason": "Policy read-only-by-default (rule reads-are-allowed): Reading (GET, HEAD, OPTIONS) changes nothing.",
} if {
	lower(input.request.method) in {"get", "head", "options"}
} else := {
	"policy": "read-only-by-default",
	"effect": "Hitl",
	"reason": "Policy read-only-by-default (no rule matched): Requests that can change state need a human's approval.",
}

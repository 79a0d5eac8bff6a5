package ai.gateway

# The demo gateway's policy (OPA v1 syntax). A request is allowed when no
# rule denies it; every denying rule says why.

default allow := false

allow if count(deny) == 0

deny contains {"msg": "pii.email_address: a message contains an email address"} if {
	some m in input.messages
	regex.match(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`, m.content)
}

deny contains {"msg": sprintf("max_tokens %d is above the cap of 1024", [input.params.max_tokens])} if {
	input.params.max_tokens > 1024
}

deny contains {"msg": sprintf("model %s is not approved for route %s", [input.model_name, input.route])} if {
	not approved[input.route][input.model_name]
}

approved := {
	"/support/chat": {"gpt-4o-mini": true, "claude-3-5-haiku": true},
	"/tickets/summarize": {"gpt-4o-mini": true, "llama-3.1-8b-instruct": true},
	"/analytics/sql": {"claude-3-5-haiku": true, "llama-3.1-8b-instruct": true},
}

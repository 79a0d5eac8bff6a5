package ai.gateway

# The demo gateway's policy (OPA v1 syntax). A request is allowed when no
# rule denies it; every denying rule says why.

default allow := false

allow if count(deny) == 0

email := `[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`

# Message text, whether content is a string or a list of OpenAI content parts.
texts contains m.content if {
	some m in input.messages
	is_string(m.content)
}

texts contains p.text if {
	some m in input.messages
	some p in m.content
	is_string(p.text)
}

deny contains {"msg": "pii.email_address: a message contains an email address"} if {
	some t in texts
	regex.match(email, t)
}

deny contains {"msg": sprintf("max_tokens %d is above the cap of 1024", [input.params.max_tokens])} if {
	input.params.max_tokens > 1024
}

route := object.get(input, "route", "")

model := object.get(input, "model_name", "")

deny contains {"msg": "the request names no model"} if model == ""

# Never format an empty string: regopy 1.5.2 renders sprintf("%s", [""]) as
# two quote characters and then cannot read its own output.
shown(s) := s if s != ""

shown(s) := "(none)" if s == ""

deny contains {"msg": sprintf("model %s is not approved for route %s", [model, shown(route)])} if {
	model != ""
	not approved[route][model]
}

approved := {
	"/support/chat": {"gpt-4o-mini": true, "claude-3-5-haiku": true},
	"/tickets/summarize": {"gpt-4o-mini": true, "llama-3.1-8b-instruct": true},
	"/analytics/sql": {"claude-3-5-haiku": true, "llama-3.1-8b-instruct": true},
}

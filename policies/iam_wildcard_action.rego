package opsdeck.rules.iam_wildcard_action

import rego.v1

metadata := {
	"id": "IAM-001",
	"title": "IAM policies allow named actions, not * or service:*",
	"severity": "high",
	"controls": ["AC-6", "AC-3"],
	"resource_types": ["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"],
	"remediation": "List the actions the principal needs instead of * or service:*.",
}

findings contains finding if {
	some entry in allows
	s := entry[2]
	some action in as_list(s.Action)
	wildcard(action)
	finding := {
		"resource": entry[0],
		"path": sprintf("%s.Action", [entry[1]]),
		"message": sprintf("%s allows the wildcard action %s", [entry[0], action]),
	}
}

wildcard(action) if action == "*"

wildcard(action) if {
	is_string(action)
	endswith(action, ":*")
}

policy_types := {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}

inline_types := {"AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"}

# [resource id, path of the statement, statement] of every Allow statement.
allows contains [r.id, sprintf("Properties.PolicyDocument.Statement.%d", [i]), s] if {
	some r in input.resources
	r.type in policy_types
	some i, s in as_list(r.properties.PolicyDocument.Statement)
	s.Effect == "Allow"
}

allows contains [r.id, sprintf("Properties.Policies.%d.PolicyDocument.Statement.%d", [j, i]), s] if {
	some r in input.resources
	r.type in inline_types
	some j, p in r.properties.Policies
	some i, s in as_list(p.PolicyDocument.Statement)
	s.Effect == "Allow"
}

as_list(x) := x if is_array(x)

as_list(x) := [x] if not is_array(x)

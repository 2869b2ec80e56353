package opsdeck.rules.iam_wildcard_resource

import rego.v1

# Resource "*" is accepted only for read-only Describe*/List* actions, which mostly have no
# resource-level permissions.
metadata := {
	"id": "IAM-002",
	"title": "IAM policies scope actions other than Describe/List to named resources",
	"severity": "medium",
	"controls": ["AC-6", "AC-3"],
	"resource_types": ["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"],
	"remediation": "Replace Resource * with the ARNs the actions need (Describe*/List* actions may keep *).",
}

findings contains finding if {
	some entry in allows
	s := entry[2]
	"*" in as_list(s.Resource)
	some action in as_list(s.Action)
	not read_only(action)
	finding := {
		"resource": entry[0],
		"path": sprintf("%s.Resource", [entry[1]]),
		"message": sprintf("%s allows %s on every resource", [entry[0], action]),
	}
}

read_only(action) if {
	is_string(action)
	parts := split(action, ":")
	count(parts) == 2
	some verb in ["Describe", "List"]
	startswith(parts[1], verb)
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

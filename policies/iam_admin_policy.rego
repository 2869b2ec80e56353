package opsdeck.rules.iam_admin_policy

import rego.v1

metadata := {
	"id": "IAM-003",
	"title": "No IAM policy grants full administrator access",
	"severity": "critical",
	"controls": ["AC-6", "AC-6(1)", "AC-2"],
	"resource_types": ["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"],
	"remediation": "Remove statements allowing Action * on Resource * and the AdministratorAccess managed policy; grant the actions the role needs.",
}

findings contains finding if {
	some entry in allows
	s := entry[2]
	"*" in as_list(s.Action)
	"*" in as_list(s.Resource)
	finding := {
		"resource": entry[0],
		"path": entry[1],
		"message": sprintf("%s allows every action on every resource", [entry[0]]),
	}
}

findings contains finding if {
	some r in input.resources
	r.type in inline_types
	some i, arn in r.properties.ManagedPolicyArns
	is_string(arn)
	endswith(arn, ":policy/AdministratorAccess")
	finding := {
		"resource": r.id,
		"path": sprintf("Properties.ManagedPolicyArns.%d", [i]),
		"message": sprintf("%s attaches the AdministratorAccess managed policy", [r.id]),
	}
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

package opsdeck.rules.log_group_retention

import rego.v1

# Unset retention keeps logs forever (and pays for them); PRD keeps them at least a year (AU-11).
metadata := {
	"id": "LOG-001",
	"title": "CloudWatch log groups set a retention period, at least 365 days in PRD",
	"severity": "low",
	"controls": ["AU-11", "AU-4", "SI-12"],
	"resource_types": ["AWS::Logs::LogGroup"],
	"remediation": "Set RetentionInDays (365 or more for PRD).",
}

prd_minimum := 365

findings contains finding if {
	some r in input.resources
	r.type == "AWS::Logs::LogGroup"
	not r.properties.RetentionInDays
	finding := {
		"resource": r.id,
		"path": "Properties.RetentionInDays",
		"message": sprintf("log group %s has no retention period", [r.id]),
	}
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::Logs::LogGroup"
	input.context.environment == "PRD"
	num(r.properties.RetentionInDays) < prd_minimum
	finding := {
		"resource": r.id,
		"path": "Properties.RetentionInDays",
		"message": sprintf("PRD log group %s keeps logs fewer than %d days", [r.id, prd_minimum]),
	}
}

# A number, or a string that holds one; anything else (an unresolved intrinsic) is undefined.
num(v) := v if is_number(v)

num(v) := to_number(v) if {
	is_string(v)
	v != ""
	every c in split(v, "") {
		c in {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	}
}

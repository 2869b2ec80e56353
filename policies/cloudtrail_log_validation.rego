package opsdeck.rules.cloudtrail_log_validation

import rego.v1

metadata := {
	"id": "CT-002",
	"title": "CloudTrail trails sign their log files",
	"severity": "medium",
	"controls": ["AU-9", "SI-7", "SI-7(1)"],
	"resource_types": ["AWS::CloudTrail::Trail"],
	"remediation": "Set EnableLogFileValidation to true.",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::CloudTrail::Trail"
	not is_true(object.get(r.properties, "EnableLogFileValidation", false))
	finding := {
		"resource": r.id,
		"path": "Properties.EnableLogFileValidation",
		"message": sprintf("trail %s does not sign its log files (no digest files)", [r.id]),
	}
}

is_true(v) if v == true

is_true(v) if {
	is_string(v)
	lower(v) == "true"
}

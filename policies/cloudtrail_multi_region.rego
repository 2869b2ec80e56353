package opsdeck.rules.cloudtrail_multi_region

import rego.v1

metadata := {
	"id": "CT-001",
	"title": "CloudTrail trails record every region",
	"severity": "high",
	"controls": ["AU-2", "AU-12"],
	"resource_types": ["AWS::CloudTrail::Trail"],
	"remediation": "Set IsMultiRegionTrail to true.",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::CloudTrail::Trail"
	not is_true(object.get(r.properties, "IsMultiRegionTrail", false))
	finding := {
		"resource": r.id,
		"path": "Properties.IsMultiRegionTrail",
		"message": sprintf("trail %s records only its own region", [r.id]),
	}
}

is_true(v) if v == true

is_true(v) if {
	is_string(v)
	lower(v) == "true"
}

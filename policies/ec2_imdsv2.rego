package opsdeck.rules.ec2_imdsv2

import rego.v1

# Instances cannot set metadata options themselves in CloudFormation: they get them from a launch
# template, which is judged on its own; an instance without one keeps IMDSv1.
metadata := {
	"id": "EC2-001",
	"title": "EC2 instances require IMDSv2 session tokens",
	"severity": "high",
	"controls": ["AC-3", "SC-23", "CM-6"],
	"resource_types": ["AWS::EC2::LaunchTemplate", "AWS::EC2::Instance"],
	"remediation": "Set LaunchTemplateData.MetadataOptions.HttpTokens to required and launch instances from that template.",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::EC2::LaunchTemplate"
	options := object.get(r.properties, ["LaunchTemplateData", "MetadataOptions"], {})
	not object.get(options, "HttpTokens", "optional") == "required"
	not object.get(options, "HttpEndpoint", "enabled") == "disabled"
	finding := {
		"resource": r.id,
		"path": "Properties.LaunchTemplateData.MetadataOptions.HttpTokens",
		"message": sprintf("launch template %s allows IMDSv1 (HttpTokens is not required)", [r.id]),
	}
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::EC2::Instance"
	not r.properties.LaunchTemplate
	finding := {
		"resource": r.id,
		"path": "Properties.LaunchTemplate",
		"message": sprintf("instance %s has no launch template requiring IMDSv2", [r.id]),
	}
}

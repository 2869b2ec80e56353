package opsdeck.rules.ebs_block_device_encryption

import rego.v1

metadata := {
	"id": "EBS-002",
	"title": "EBS volumes of instances, launch templates and launch configurations are encrypted",
	"severity": "high",
	"controls": ["SC-28", "SC-28(1)"],
	"resource_types": ["AWS::EC2::Instance", "AWS::EC2::LaunchTemplate", "AWS::AutoScaling::LaunchConfiguration"],
	"remediation": "Set Ebs.Encrypted to true in every BlockDeviceMappings entry.",
}

# (resource, path prefix, mappings)
mappings contains [r.id, "Properties.BlockDeviceMappings", r.properties.BlockDeviceMappings] if {
	some r in input.resources
	r.type in {"AWS::EC2::Instance", "AWS::AutoScaling::LaunchConfiguration"}
}

mappings contains [r.id, "Properties.LaunchTemplateData.BlockDeviceMappings", r.properties.LaunchTemplateData.BlockDeviceMappings] if {
	some r in input.resources
	r.type == "AWS::EC2::LaunchTemplate"
}

findings contains finding if {
	some entry in mappings
	id := entry[0]
	some i, m in entry[2]
	is_object(m.Ebs)
	not is_true(object.get(m.Ebs, "Encrypted", false))
	finding := {
		"resource": id,
		"path": sprintf("%s.%d.Ebs.Encrypted", [entry[1], i]),
		"message": sprintf("%s: block device %v is not encrypted", [id, object.get(m, "DeviceName", i)]),
	}
}

is_true(v) if v == true

is_true(v) if {
	is_string(v)
	lower(v) == "true"
}

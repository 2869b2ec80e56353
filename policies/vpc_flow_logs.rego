package opsdeck.rules.vpc_flow_logs

import rego.v1

metadata := {
	"id": "VPC-001",
	"title": "VPCs record flow logs",
	"severity": "medium",
	"controls": ["AU-2", "AU-12", "SI-4"],
	"resource_types": ["AWS::EC2::VPC"],
	"reads": ["AWS::EC2::FlowLog"],
	"remediation": "Add an AWS::EC2::FlowLog with ResourceType VPC and ResourceId !Ref of the VPC.",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::EC2::VPC"
	not has_flow_log(r.id)
	finding := {
		"resource": r.id,
		"path": "Properties",
		"message": sprintf("no flow log records the traffic of VPC %s", [r.id]),
	}
}

has_flow_log(id) if {
	some f in input.resources
	f.type == "AWS::EC2::FlowLog"
	f.properties.ResourceId == {"Ref": id}
}

has_flow_log(id) if {
	some f in input.resources
	f.type == "AWS::EC2::FlowLog"
	{"Ref": id} in f.properties.ResourceIds
}

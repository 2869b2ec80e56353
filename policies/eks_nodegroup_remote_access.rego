package opsdeck.rules.eks_nodegroup_remote_access

import rego.v1

metadata := {
	"id": "EKS-004",
	"title": "EKS node groups with an SSH key limit SSH to given security groups",
	"severity": "high",
	"controls": ["AC-17", "SC-7"],
	"resource_types": ["AWS::EKS::Nodegroup"],
	"remediation": "Drop RemoteAccess (use SSM Session Manager), or set RemoteAccess.SourceSecurityGroups.",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::EKS::Nodegroup"
	r.properties.RemoteAccess.Ec2SshKey
	count(object.get(r.properties.RemoteAccess, "SourceSecurityGroups", [])) == 0
	finding := {
		"resource": r.id,
		"path": "Properties.RemoteAccess",
		"message": sprintf("node group %s opens SSH (port 22) to 0.0.0.0/0", [r.id]),
	}
}

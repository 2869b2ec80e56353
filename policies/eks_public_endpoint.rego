package opsdeck.rules.eks_public_endpoint

import rego.v1

metadata := {
	"id": "EKS-003",
	"title": "EKS API endpoints are private, or public only to listed networks",
	"severity": "high",
	"controls": ["AC-3", "SC-7", "AC-17"],
	"resource_types": ["AWS::EKS::Cluster"],
	"remediation": "Set ResourcesVpcConfig.EndpointPublicAccess to false, or PublicAccessCidrs to specific networks (never 0.0.0.0/0).",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::EKS::Cluster"
	vpc := object.get(r.properties, "ResourcesVpcConfig", {})
	public(vpc)
	open_to_all(vpc)
	finding := {
		"resource": r.id,
		"path": "Properties.ResourcesVpcConfig.PublicAccessCidrs",
		"message": sprintf("cluster %s exposes its API endpoint to the whole internet", [r.id]),
	}
}

# EndpointPublicAccess defaults to true.
public(vpc) if not is_false(object.get(vpc, "EndpointPublicAccess", true))

open_to_all(vpc) if count(cidrs(vpc)) == 0

open_to_all(vpc) if "0.0.0.0/0" in cidrs(vpc)

# A list, or the comma-separated value of a CommaDelimitedList parameter.
cidrs(vpc) := [c | some c in vpc.PublicAccessCidrs; c != ""] if is_array(vpc.PublicAccessCidrs)

cidrs(vpc) := [c | some c in split(vpc.PublicAccessCidrs, ","); c != ""] if is_string(vpc.PublicAccessCidrs)

cidrs(vpc) := [] if not vpc.PublicAccessCidrs

is_false(v) if v == false

is_false(v) if {
	is_string(v)
	lower(v) == "false"
}

package opsdeck.rules.eks_control_plane_logging

import rego.v1

metadata := {
	"id": "EKS-002",
	"title": "EKS clusters send api, audit and authenticator control-plane logs to CloudWatch",
	"severity": "medium",
	"controls": ["AU-2", "AU-12", "AC-6(9)"],
	"resource_types": ["AWS::EKS::Cluster"],
	"remediation": "List api, audit and authenticator (better: all five types) in Logging.ClusterLogging.EnabledTypes.",
}

required := ["api", "audit", "authenticator"]

findings contains finding if {
	some r in input.resources
	r.type == "AWS::EKS::Cluster"
	enabled := {t.Type | some t in object.get(r.properties, ["Logging", "ClusterLogging", "EnabledTypes"], [])}
	some kind in required
	not kind in enabled
	finding := {
		"resource": r.id,
		"path": "Properties.Logging.ClusterLogging.EnabledTypes",
		"message": sprintf("cluster %s does not log %s events", [r.id, kind]),
	}
}

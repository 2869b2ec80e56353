package opsdeck.rules.eks_secrets_encryption

import rego.v1

metadata := {
	"id": "EKS-001",
	"title": "EKS clusters encrypt Kubernetes secrets with a KMS key",
	"severity": "high",
	"controls": ["SC-28", "SC-28(1)", "SC-12"],
	"resource_types": ["AWS::EKS::Cluster"],
	"remediation": "Add EncryptionConfig with Resources [secrets] and Provider.KeyArn set to a KMS key.",
}

findings contains finding if {
	some r in input.resources
	r.type == "AWS::EKS::Cluster"
	not encrypts_secrets(r.properties)
	finding := {
		"resource": r.id,
		"path": "Properties.EncryptionConfig",
		"message": sprintf("cluster %s does not envelope-encrypt secrets with KMS", [r.id]),
	}
}

encrypts_secrets(props) if {
	some config in props.EncryptionConfig
	"secrets" in config.Resources
	config.Provider.KeyArn
	config.Provider.KeyArn != ""
}

package opsdeck.rules.k8s_privileged

import rego.v1

# Live workloads (and manifests): every kind that holds a pod template. Inputs of kind
# "kubernetes": see kube/compliance.rs.
metadata := {
	"id": "K8S-001",
	"title": "Containers do not run privileged",
	"severity": "critical",
	"controls": ["AC-6", "AC-6(10)", "CM-7", "SC-39"],
	"resource_types": ["k8s:v1:Pod", "k8s:apps/v1:Deployment", "k8s:apps/v1:StatefulSet", "k8s:apps/v1:DaemonSet", "k8s:apps/v1:ReplicaSet", "k8s:batch/v1:Job", "k8s:batch/v1:CronJob"],
	"remediation": "Remove securityContext.privileged (or set it to false); grant only the capabilities the container needs.",
}

findings contains finding if {
	some r in input.resources
	some [path, c] in containers(r)
	object.get(c, ["securityContext", "privileged"], false) == true
	finding := {
		"resource": r.id,
		"path": sprintf("%s.securityContext.privileged", [path]),
		"message": sprintf("container %s of %s runs privileged: it has every capability of the node", [c.name, r.id]),
	}
}

# The pod spec of each kind of workload, and where it is (for the finding's path).
workloads := {
	"k8s:v1:Pod",
	"k8s:apps/v1:Deployment",
	"k8s:apps/v1:StatefulSet",
	"k8s:apps/v1:DaemonSet",
	"k8s:apps/v1:ReplicaSet",
	"k8s:batch/v1:Job",
	"k8s:batch/v1:CronJob",
}

spec_path(r) := "spec" if r.type == "k8s:v1:Pod"

spec_path(r) := "spec.jobTemplate.spec.template.spec" if r.type == "k8s:batch/v1:CronJob"

spec_path(r) := "spec.template.spec" if {
	r.type in workloads
	r.type != "k8s:v1:Pod"
	r.type != "k8s:batch/v1:CronJob"
}

pod_spec(r) := object.get(r.properties, split(spec_path(r), "."), {})

# Every container (init containers first), with its path.
containers(r) := [[sprintf("%s.%s[%d]", [spec_path(r), field, i]), c] |
	some field in ["initContainers", "containers"]
	some i, c in object.get(pod_spec(r), field, [])
]

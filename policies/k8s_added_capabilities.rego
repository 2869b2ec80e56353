package opsdeck.rules.k8s_added_capabilities

import rego.v1

# Live workloads (and manifests): every kind that holds a pod template. Inputs of kind
# "kubernetes": see kube/compliance.rs.
metadata := {
	"id": "K8S-005",
	"title": "Containers add no dangerous Linux capability (SYS_ADMIN, NET_ADMIN, ALL)",
	"severity": "high",
	"controls": ["AC-6", "CM-7", "SC-39"],
	"resource_types": ["k8s:v1:Pod", "k8s:apps/v1:Deployment", "k8s:apps/v1:StatefulSet", "k8s:apps/v1:DaemonSet", "k8s:apps/v1:ReplicaSet", "k8s:batch/v1:Job", "k8s:batch/v1:CronJob"],
	"remediation": "Remove SYS_ADMIN, NET_ADMIN and ALL from securityContext.capabilities.add; drop ALL and add back only what is needed.",
}

dangerous := {"SYS_ADMIN", "NET_ADMIN", "ALL"}

findings contains finding if {
	some r in input.resources
	some [path, c] in containers(r)
	some cap in object.get(c, ["securityContext", "capabilities", "add"], [])
	name := trim_prefix(upper(cap), "CAP_")
	name in dangerous
	finding := {
		"resource": r.id,
		"path": sprintf("%s.securityContext.capabilities.add", [path]),
		"message": sprintf("container %s of %s adds the %s capability", [c.name, r.id, name]),
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

package opsdeck.rules.k8s_read_only_root

import rego.v1

# Live workloads (and manifests): every kind that holds a pod template. Inputs of kind
# "kubernetes": see kube/compliance.rs.
metadata := {
	"id": "K8S-009",
	"title": "Containers run with a read-only root filesystem",
	"severity": "medium",
	"controls": ["CM-7", "SI-7", "AC-6"],
	"resource_types": ["k8s:v1:Pod", "k8s:apps/v1:Deployment", "k8s:apps/v1:StatefulSet", "k8s:apps/v1:DaemonSet", "k8s:apps/v1:ReplicaSet", "k8s:batch/v1:Job", "k8s:batch/v1:CronJob"],
	"remediation": "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the container must write.",
}

findings contains finding if {
	some r in input.resources
	some [path, c] in containers(r)
	not object.get(c, ["securityContext", "readOnlyRootFilesystem"], false) == true
	finding := {
		"resource": r.id,
		"path": sprintf("%s.securityContext.readOnlyRootFilesystem", [path]),
		"message": sprintf("container %s of %s can write its root filesystem", [c.name, r.id]),
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

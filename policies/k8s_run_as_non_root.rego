package opsdeck.rules.k8s_run_as_non_root

import rego.v1

# Live workloads (and manifests): every kind that holds a pod template. Inputs of kind
# "kubernetes": see kube/compliance.rs.
metadata := {
	"id": "K8S-003",
	"title": "Containers must run as a non-root user",
	"severity": "high",
	"controls": ["AC-6", "AC-6(10)", "CM-6"],
	"resource_types": ["k8s:v1:Pod", "k8s:apps/v1:Deployment", "k8s:apps/v1:StatefulSet", "k8s:apps/v1:DaemonSet", "k8s:apps/v1:ReplicaSet", "k8s:batch/v1:Job", "k8s:batch/v1:CronJob"],
	"remediation": "Set securityContext.runAsNonRoot: true on the pod (or on each container) and give the image a non-root USER.",
}

findings contains finding if {
	some r in input.resources
	spec := pod_spec(r)
	some [path, c] in containers(r)
	not non_root(spec, c)
	finding := {
		"resource": r.id,
		"path": sprintf("%s.securityContext.runAsNonRoot", [path]),
		"message": sprintf("container %s of %s may run as root (runAsNonRoot is not true)", [c.name, r.id]),
	}
}

non_root(_, c) if c.securityContext.runAsNonRoot == true

non_root(spec, c) if {
	not c.securityContext.runAsNonRoot == false
	spec.securityContext.runAsNonRoot == true
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

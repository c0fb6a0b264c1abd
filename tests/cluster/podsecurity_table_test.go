package cluster

// The table of TestPodSecurityReference: for every field the Pod Security Standards name, a
// violating and a compliant variant.

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const pssImage = "registry.invalid/pss/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func ptr[T any](v T) *T { return &v }

// hardenedContainer passes policy/admission's workload rules and Pod Security restricted.
func hardenedContainer(name string) corev1.Container {
	return corev1.Container{
		Name: name, Image: pssImage,
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot: ptr(true), AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true),
			Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi"),
		}},
	}
}

func hardenedPod() *corev1.Pod {
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		Spec:     corev1.PodSpec{Containers: []corev1.Container{hardenedContainer("app")}},
	}
}

// variant sets one field: code and reason as in pssCase ("" for a compliant variant).
type variant[T any] struct {
	field, code, reason string
	set                 func(T)
	stricter            bool
}

// pssCases is the table: every container variant in each container list, then every pod
// variant, numbered so that each pod has a name of its own.
func pssCases() []pssCase {
	var cases []pssCase
	add := func(name, code, reason string, stricter bool, p *corev1.Pod) {
		p.Name = fmt.Sprintf("pss-%03d", len(cases))
		cases = append(cases, pssCase{name: name, pod: p, code: code, reason: reason, stricter: stricter})
	}
	for _, v := range containerVariants() {
		for _, list := range []string{"containers", "initContainers", "ephemeralContainers"} {
			c := hardenedContainer("victim")
			v.set(&c)
			add(list+" "+v.field, v.code, v.reason, v.stricter, inList(list, c))
		}
	}
	for _, v := range podVariants() {
		p := hardenedPod()
		v.set(p)
		add("pod "+v.field, v.code, v.reason, v.stricter, p)
	}
	return cases
}

// inList is the hardened pod with c in list (beside the hardened container, but in containers).
func inList(list string, c corev1.Container) *corev1.Pod {
	p := hardenedPod()
	switch list {
	case "containers":
		p.Spec.Containers = []corev1.Container{c}
	case "initContainers":
		p.Spec.InitContainers = []corev1.Container{c}
	default:
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon(c)}}
	}
	return p
}

type cv = variant[*corev1.Container]

func sc(f func(*corev1.SecurityContext)) func(*corev1.Container) {
	return func(c *corev1.Container) { f(c.SecurityContext) }
}

func containerVariants() []cv {
	vs := []cv{
		{field: "windowsOptions.hostProcess=true", code: "HOST_PROCESS", reason: "hostProcess", set: sc(func(s *corev1.SecurityContext) {
			s.WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: ptr(true)}
		})},
		{field: "windowsOptions.hostProcess=false", set: sc(func(s *corev1.SecurityContext) {
			s.WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: ptr(false)}
		})},
		{field: "privileged=true", code: "PRIVILEGED", reason: "privileged", set: sc(func(s *corev1.SecurityContext) { s.Privileged = ptr(true) })},
		{field: "privileged=false", set: sc(func(s *corev1.SecurityContext) { s.Privileged = ptr(false) })},
		{field: "capabilities.add=SYS_ADMIN", code: "CAPABILITIES_ADDED", reason: "unrestricted capabilities", set: sc(func(s *corev1.SecurityContext) {
			s.Capabilities.Add = []corev1.Capability{"SYS_ADMIN"}
		})},
		{field: "capabilities.add=NET_BIND_SERVICE", code: "CAPABILITIES_ADDED", stricter: true, set: sc(func(s *corev1.SecurityContext) {
			s.Capabilities.Add = []corev1.Capability{"NET_BIND_SERVICE"}
		})},
		{field: "capabilities.drop=NET_RAW", code: "CAPABILITIES_NOT_DROPPED", reason: "unrestricted capabilities", set: sc(func(s *corev1.SecurityContext) {
			s.Capabilities.Drop = []corev1.Capability{"NET_RAW"}
		})},
		{field: "capabilities unset", code: "CAPABILITIES_NOT_DROPPED", reason: "unrestricted capabilities", set: sc(func(s *corev1.SecurityContext) { s.Capabilities = nil })},
		{field: "ports.hostPort=8443", code: "HOST_PORT", reason: "hostPort", set: func(c *corev1.Container) {
			c.Ports = []corev1.ContainerPort{{ContainerPort: 8443, HostPort: 8443}}
		}},
		{field: "ports.hostPort unset", set: func(c *corev1.Container) { c.Ports = []corev1.ContainerPort{{ContainerPort: 8443}} }},
		{field: "procMount=Unmasked", code: "PROC_MOUNT", reason: "procMount", set: sc(func(s *corev1.SecurityContext) { s.ProcMount = ptr(corev1.UnmaskedProcMount) })},
		{field: "procMount=Default", set: sc(func(s *corev1.SecurityContext) { s.ProcMount = ptr(corev1.DefaultProcMount) })},
		{field: "allowPrivilegeEscalation=true", code: "PRIVILEGE_ESCALATION", reason: "allowPrivilegeEscalation != false", set: sc(func(s *corev1.SecurityContext) {
			s.AllowPrivilegeEscalation = ptr(true)
		})},
		{field: "allowPrivilegeEscalation unset", code: "PRIVILEGE_ESCALATION", reason: "allowPrivilegeEscalation != false", set: sc(func(s *corev1.SecurityContext) {
			s.AllowPrivilegeEscalation = nil
		})},
		{field: "runAsNonRoot=false", code: "RUN_AS_NON_ROOT", reason: "runAsNonRoot != true", set: sc(func(s *corev1.SecurityContext) { s.RunAsNonRoot = ptr(false) })},
		{field: "runAsNonRoot unset", code: "RUN_AS_NON_ROOT", reason: "runAsNonRoot != true", set: sc(func(s *corev1.SecurityContext) { s.RunAsNonRoot = nil })},
		{field: "runAsUser=0", code: "RUN_AS_ROOT_USER", reason: "runAsUser=0", set: sc(func(s *corev1.SecurityContext) { s.RunAsUser = ptr(int64(0)) })},
		{field: "runAsUser=65532", set: sc(func(s *corev1.SecurityContext) { s.RunAsUser = ptr(int64(65532)) })},
		{field: "seccompProfile unset", code: "SECCOMP_MISSING", reason: "seccompProfile", set: sc(func(s *corev1.SecurityContext) { s.SeccompProfile = nil })},
	}
	vs = append(vs, sharedVariants(func(f func(*corev1.SecurityContext, *corev1.PodSecurityContext)) func(*corev1.Container) {
		return func(c *corev1.Container) { f(c.SecurityContext, nil) }
	})...)
	return append(vs, probeVariants()...)
}

// sharedVariants are the fields a container's and the pod's securityContext both have:
// AppArmor, SELinux, seccomp. on applies a setter to one of the two.
func sharedVariants[T any](on func(func(*corev1.SecurityContext, *corev1.PodSecurityContext)) func(T)) []variant[T] {
	apparmor := func(t corev1.AppArmorProfileType, local *string) func(T) {
		return on(func(c *corev1.SecurityContext, p *corev1.PodSecurityContext) {
			prof := &corev1.AppArmorProfile{Type: t, LocalhostProfile: local}
			if c != nil {
				c.AppArmorProfile = prof
			} else {
				p.AppArmorProfile = prof
			}
		})
	}
	selinux := func(o corev1.SELinuxOptions) func(T) {
		return on(func(c *corev1.SecurityContext, p *corev1.PodSecurityContext) {
			if c != nil {
				c.SELinuxOptions = &o
			} else {
				p.SELinuxOptions = &o
			}
		})
	}
	seccomp := func(t corev1.SeccompProfileType, local *string) func(T) {
		return on(func(c *corev1.SecurityContext, p *corev1.PodSecurityContext) {
			prof := &corev1.SeccompProfile{Type: t, LocalhostProfile: local}
			if c != nil {
				c.SeccompProfile = prof
			} else {
				p.SeccompProfile = prof
			}
		})
	}
	vs := []variant[T]{
		{field: "appArmorProfile=Unconfined", code: "APPARMOR_UNCONFINED", reason: "forbidden AppArmor profile", set: apparmor(corev1.AppArmorProfileTypeUnconfined, nil)},
		{field: "appArmorProfile=RuntimeDefault", set: apparmor(corev1.AppArmorProfileTypeRuntimeDefault, nil)},
		{field: "appArmorProfile=Localhost", set: apparmor(corev1.AppArmorProfileTypeLocalhost, ptr("k8s-movies"))},
		{field: "seLinuxOptions.type=spc_t", code: "SELINUX_TYPE", reason: "seLinuxOptions", set: selinux(corev1.SELinuxOptions{Type: "spc_t"})},
		{field: "seLinuxOptions.user=system_u", code: "SELINUX_USER_ROLE", reason: "seLinuxOptions", set: selinux(corev1.SELinuxOptions{User: "system_u"})},
		{field: "seLinuxOptions.role=system_r", code: "SELINUX_USER_ROLE", reason: "seLinuxOptions", set: selinux(corev1.SELinuxOptions{Role: "system_r"})},
		{field: "seLinuxOptions.level only", set: selinux(corev1.SELinuxOptions{Level: "s0:c123,c456"})},
		{field: "seccompProfile=Unconfined", code: "SECCOMP_UNCONFINED", reason: "seccompProfile", set: seccomp(corev1.SeccompProfileTypeUnconfined, nil)},
		{field: "seccompProfile=Localhost", set: seccomp(corev1.SeccompProfileTypeLocalhost, ptr("profiles/movies.json"))},
	}
	for _, t := range []string{"container_t", "container_init_t", "container_kvm_t", "container_engine_t"} {
		vs = append(vs, variant[T]{field: "seLinuxOptions.type=" + t, set: selinux(corev1.SELinuxOptions{Type: t})})
	}
	return vs
}

// probeVariants: a host in each probe and lifecycle handler, httpGet and tcpSocket.
func probeVariants() []cv {
	handler := func(action, host string) corev1.ProbeHandler {
		if action == "httpGet" {
			return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intOrPort(), Host: host}}
		}
		return corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intOrPort(), Host: host}}
	}
	where := map[string]func(*corev1.Container, corev1.ProbeHandler){
		"livenessProbe":  func(c *corev1.Container, h corev1.ProbeHandler) { c.LivenessProbe = &corev1.Probe{ProbeHandler: h} },
		"readinessProbe": func(c *corev1.Container, h corev1.ProbeHandler) { c.ReadinessProbe = &corev1.Probe{ProbeHandler: h} },
		"startupProbe":   func(c *corev1.Container, h corev1.ProbeHandler) { c.StartupProbe = &corev1.Probe{ProbeHandler: h} },
		"lifecycle.postStart": func(c *corev1.Container, h corev1.ProbeHandler) {
			c.Lifecycle = &corev1.Lifecycle{PostStart: lifecycle(h)}
		},
		"lifecycle.preStop": func(c *corev1.Container, h corev1.ProbeHandler) {
			c.Lifecycle = &corev1.Lifecycle{PreStop: lifecycle(h)}
		},
	}
	var vs []cv
	for _, name := range slices.Sorted(maps.Keys(where)) {
		for _, action := range []string{"httpGet", "tcpSocket"} {
			for _, host := range []string{"169.254.169.254", ""} {
				v := cv{field: fmt.Sprintf("%s.%s.host=%q", name, action, host), set: func(c *corev1.Container) { where[name](c, handler(action, host)) }}
				if host != "" {
					v.code, v.reason = "PROBE_HOST", "probe or lifecycle host"
				}
				vs = append(vs, v)
			}
		}
	}
	return vs
}

func intOrPort() intstr.IntOrString { return intstr.FromInt32(8443) }

func lifecycle(h corev1.ProbeHandler) *corev1.LifecycleHandler {
	return &corev1.LifecycleHandler{HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket}
}

type pv = variant[*corev1.Pod]

func psc(f func(*corev1.PodSecurityContext)) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		if p.Spec.SecurityContext == nil {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{}
		}
		f(p.Spec.SecurityContext)
	}
}

// podVariants are the pod-level fields: namespaces, the pod's securityContext, the AppArmor
// annotations, sysctls and volumes, and the cases where policy/admission is stricter.
func podVariants() []pv {
	vs := []pv{
		{field: "hostNetwork=true", code: "HOST_NETWORK", reason: "host namespaces", set: func(p *corev1.Pod) { p.Spec.HostNetwork = true }},
		{field: "hostPID=true", code: "HOST_PID", reason: "host namespaces", set: func(p *corev1.Pod) { p.Spec.HostPID = true }},
		{field: "hostIPC=true", code: "HOST_IPC", reason: "host namespaces", set: func(p *corev1.Pod) { p.Spec.HostIPC = true }},
		{field: "securityContext.windowsOptions.hostProcess=true", code: "HOST_PROCESS", reason: "hostProcess", set: psc(func(s *corev1.PodSecurityContext) {
			s.WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: ptr(true)}
		})},
		{field: "securityContext.runAsNonRoot=false", code: "RUN_AS_NON_ROOT", reason: "runAsNonRoot != true", set: psc(func(s *corev1.PodSecurityContext) { s.RunAsNonRoot = ptr(false) })},
		{field: "securityContext.runAsNonRoot=true only", set: func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr(true)}
			p.Spec.Containers[0].SecurityContext.RunAsNonRoot = nil
		}},
		{field: "securityContext.runAsUser=0", code: "RUN_AS_ROOT_USER", reason: "runAsUser=0", set: func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr(int64(0))}
			p.Spec.Containers[0].SecurityContext.RunAsUser = ptr(int64(65532))
		}},
		{field: "securityContext.seccompProfile=RuntimeDefault only", set: func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
			p.Spec.Containers[0].SecurityContext.SeccompProfile = nil
		}},
		{field: "hostUsers=false, procMount=Unmasked", code: "PROC_MOUNT", reason: "procMount", set: func(p *corev1.Pod) {
			p.Spec.HostUsers = ptr(false)
			p.Spec.Containers[0].SecurityContext.ProcMount = ptr(corev1.UnmaskedProcMount)
		}},
		// Stricter on purpose: no exemption for Windows pods or for pods in a user namespace.
		{field: "os.name=windows without seccompProfile", code: "SECCOMP_MISSING", stricter: true, set: func(p *corev1.Pod) {
			p.Spec.OS = &corev1.PodOS{Name: corev1.Windows}
			p.Spec.Containers[0].SecurityContext.SeccompProfile = nil
		}},
		{field: "hostUsers=false, runAsUser=0", code: "RUN_AS_ROOT_USER", stricter: true, set: func(p *corev1.Pod) {
			p.Spec.HostUsers = ptr(false)
			p.Spec.Containers[0].SecurityContext.RunAsUser = ptr(int64(0))
		}},
	}
	vs = append(vs, sharedVariants(func(f func(*corev1.SecurityContext, *corev1.PodSecurityContext)) func(*corev1.Pod) {
		return psc(func(s *corev1.PodSecurityContext) { f(nil, s) })
	})...)
	vs = append(vs, annotationVariants()...)
	vs = append(vs, sysctlVariants()...)
	return append(vs, volumeVariants()...)
}

func annotationVariants() []pv {
	var vs []pv
	for _, v := range []string{"unconfined", "runtime/default", "localhost/k8s-movies"} {
		a := pv{field: "annotation container.apparmor.security.beta.kubernetes.io/app=" + v, set: func(p *corev1.Pod) {
			p.Annotations = map[string]string{"container.apparmor.security.beta.kubernetes.io/app": v}
		}}
		if v == "unconfined" {
			a.code, a.reason = "APPARMOR_UNCONFINED", "forbidden AppArmor profile"
		}
		vs = append(vs, a)
	}
	return vs
}

// safeSysctls is Pod Security baseline's safe set at v1.37.
var safeSysctls = []string{
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
	"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat",
}

func sysctlVariants() []pv {
	var vs []pv
	for _, name := range append([]string{"kernel.msgmax", "net.core.somaxconn"}, safeSysctls...) {
		v := pv{field: "securityContext.sysctls=" + name, set: psc(func(s *corev1.PodSecurityContext) {
			s.Sysctls = []corev1.Sysctl{{Name: name, Value: "1"}}
		})}
		if !slices.Contains(safeSysctls, name) {
			v.code, v.reason = "SYSCTL_UNSAFE", "forbidden sysctls"
		}
		vs = append(vs, v)
	}
	return vs
}

// volumeVariants: one volume of each source type, decoded from JSON so that every type of
// the API is reachable by name ("" is a volume without a source).
func volumeVariants() []pv {
	allowed := []string{"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret"}
	restricted := []string{"hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs", "rbd",
		"flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume", "quobyte", "azureDisk",
		"portworxVolume", "photonPersistentDisk", "scaleIO", "storageos", ""}
	var vs []pv
	for _, src := range append(allowed, restricted...) {
		doc := `{"name":"v"}`
		if src != "" {
			doc = fmt.Sprintf(`{"name":"v",%q:{}}`, src)
		}
		var vol corev1.Volume
		if err := json.Unmarshal([]byte(doc), &vol); err != nil {
			panic(err)
		}
		v := pv{field: "volumes " + doc, set: func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{vol} }}
		switch {
		case src == "hostPath":
			v.code, v.reason = "HOST_PATH", "restricted volume types"
		case !slices.Contains(allowed, src):
			v.code, v.reason = "VOLUME_TYPE", "restricted volume types"
		}
		vs = append(vs, v)
	}
	return vs
}

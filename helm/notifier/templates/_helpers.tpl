{{/*
Named templates shared by every workload. Each workload keeps its own file; what they have
in common (labels, security contexts, envFrom, /tmp, the wait-for-migrations init container,
the image) is defined once here.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "notifier.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "<release>-<chart>" (or the release name alone when it contains the chart name), at most 63 characters. */}}
{{- define "notifier.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"<fullname>-<component>", kept within 63 characters (a Service name is a DNS label).
Call with (dict "ctx" $ "component" "web").
*/}}
{{- define "notifier.componentName" -}}
{{- $prefix := include "notifier.fullname" .ctx | trunc (int (sub 62 (len .component))) | trimSuffix "-" }}
{{- printf "%s-%s" $prefix .component }}
{{- end }}

{{/* "<chart>-<version>" for the helm.sh/chart label. */}}
{{- define "notifier.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The image tag: image.tag, or the chart's appVersion. */}}
{{- define "notifier.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The image reference: repository@digest when a digest is given, else repository:tag. */}}
{{- define "notifier.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "notifier.imageTag" .) }}
{{- end }}
{{- end }}

{{/* Labels that select a component's pods (never change them: Deployment selectors are immutable). */}}
{{- define "notifier.selectorLabels" -}}
app.kubernetes.io/name: {{ include "notifier.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end }}

{{/* Standard labels of every object. Call with (dict "ctx" $ "component" "web"); component may be "". */}}
{{- define "notifier.labels" -}}
helm.sh/chart: {{ include "notifier.chart" .ctx }}
{{ include "notifier.selectorLabels" . }}
app.kubernetes.io/version: {{ include "notifier.imageTag" .ctx | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: {{ include "notifier.name" .ctx }}
{{- end }}

{{/* Pod labels: the chart's labels, then the workload's podLabels, then the global ones (the chart's win). */}}
{{- define "notifier.podLabels" -}}
{{- $own := fromYaml (include "notifier.labels" .) }}
{{- $workload := index .ctx.Values .component }}
{{- toYaml (merge $own (deepCopy ($workload.podLabels | default dict)) (deepCopy (.ctx.Values.podLabels | default dict))) }}
{{- end }}

{{/* The Secret every container reads: existingSecret, or the one the chart makes. */}}
{{- define "notifier.secretName" -}}
{{- .Values.existingSecret | default (include "notifier.fullname" .) }}
{{- end }}

{{/* The ConfigMap every container reads. */}}
{{- define "notifier.configMapName" -}}
{{- printf "%s-config" (include "notifier.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{/* The ServiceAccount the pods run as. */}}
{{- define "notifier.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- .Values.serviceAccount.name | default (include "notifier.fullname" .) }}
{{- else }}
{{- .Values.serviceAccount.name | default "default" }}
{{- end }}
{{- end }}

{{/*
Pod annotations: checksum/config (and checksum/secret when the chart makes the Secret) so
pods roll when the configuration changes, then the workload's and the global podAnnotations.
*/}}
{{- define "notifier.podAnnotations" -}}
{{- $ctx := .ctx }}
{{- $own := dict "checksum/config" (include (print $ctx.Template.BasePath "/configmap.yaml") $ctx | sha256sum) }}
{{- if not $ctx.Values.existingSecret }}
{{- $_ := set $own "checksum/secret" (include (print $ctx.Template.BasePath "/secret.yaml") $ctx | sha256sum) }}
{{- end }}
{{- $workload := index $ctx.Values .component }}
{{- toYaml (merge $own (deepCopy ($workload.podAnnotations | default dict)) (deepCopy ($ctx.Values.podAnnotations | default dict))) }}
{{- end }}

{{/* Pod-level fields common to every pod: identity, pull secrets, security context, scheduling. */}}
{{- define "notifier.podSpecCommon" -}}
{{- $ctx := .ctx }}
{{- $workload := index $ctx.Values .component -}}
serviceAccountName: {{ include "notifier.serviceAccountName" $ctx }}
automountServiceAccountToken: false
{{- with $ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $ctx.Values.podSecurityContext | nindent 2 }}
{{- with $workload.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $workload.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $workload.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $workload.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $workload.topologySpreadConstraints }}
{{- /* A constraint without labelSelector would count no pod at all: it gets the workload's own selector labels. */}}
{{- $selector := fromYaml (include "notifier.selectorLabels" (dict "ctx" $ctx "component" $.component)) }}
topologySpreadConstraints:
  {{- range . }}
  {{- $constraint := deepCopy . }}
  {{- if not (hasKey $constraint "labelSelector") }}
  {{- $_ := set $constraint "labelSelector" (dict "matchLabels" $selector) }}
  {{- end }}
  - {{- toYaml $constraint | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Container security context of every container. */}}
{{- define "notifier.containerSecurityContext" -}}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- end }}

{{/*
The image and pull policy of every container. Containers set the full argv as `args`, never
`command`: `command` would replace the image's ENTRYPOINT (tini), and tini must stay PID 1 so
that SIGTERM reaches Celery and gunicorn and exec-probe processes are reaped.
*/}}
{{- define "notifier.containerImage" -}}
image: {{ include "notifier.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
{{- end }}

{{/* envFrom of every container: the ConfigMap, then the Secret. */}}
{{- define "notifier.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ include "notifier.configMapName" . }}
  - secretRef:
      name: {{ include "notifier.secretName" . }}
{{- end }}

{{/*
THE list of the Secret keys each container cannot run without, defined once. Call with
(dict "component" "web"); gives a JSON list. "component" is a workload (web, worker, beat,
flower, inbox, migrate) or "wait-for-migrations" (the init container). Every container gets
them as non-optional secretKeyRefs (notifier.requiredSecretEnv), so a Secret lacking one keeps
the pod from starting instead of the settings falling back to a localhost default; and
notifier.validate requires them in secretEnv for every enabled workload.
*/}}
{{- define "notifier.requiredSecretKeys" -}}
{{- $keys := list "DJANGO_SECRET_KEY" "NOTIFIER_ENCRYPTION_KEYS" "DATABASE_URL" "REDIS_URL" }}
{{- if eq .component "web" }}
{{- $keys = append $keys "NOTIFIER_METRICS_TOKEN" }}
{{- else if eq .component "flower" }}
{{- $keys = append $keys "FLOWER_BASIC_AUTH" }}
{{- end }}
{{- toJson $keys }}
{{- end }}

{{/* The required keys of every enabled workload and its init container, as a JSON list (validate, NOTES.txt). */}}
{{- define "notifier.requiredSecretKeysOfRelease" -}}
{{- $keys := list }}
{{- range $component := list "web" "worker" "beat" "flower" "inbox" "migrate" }}
{{- if (index $.Values $component).enabled }}
{{- $keys = concat $keys (include "notifier.requiredSecretKeys" (dict "component" $component) | fromJsonArray) }}
{{- if ne $component "flower" }}
{{- $keys = concat $keys (include "notifier.requiredSecretKeys" (dict "component" "wait-for-migrations") | fromJsonArray) }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson (uniq $keys) }}
{{- end }}

{{/*
env entries for the required keys of a container: each a non-optional secretKeyRef, so a
Secret (existingSecret above all) lacking the key keeps the pod from starting.
Call with (dict "ctx" $ "component" "web").
*/}}
{{- define "notifier.requiredSecretEnv" -}}
{{- $secret := include "notifier.secretName" .ctx }}
{{- range include "notifier.requiredSecretKeys" (dict "component" .component) | fromJsonArray }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
      optional: false
{{- end }}
{{- end }}

{{/*
The preStop pause of web and Flower: the pod is taken out of the Service's endpoints while it
sleeps, so the ingress and kube-proxy stop sending it requests before SIGTERM. Call with the
seconds; 0 gives nothing.
*/}}
{{- define "notifier.preStopSleep" -}}
{{- if . }}
lifecycle:
  preStop:
    exec:
      command: ["sleep", {{ . | toString | quote }}]
{{- end }}
{{- end }}

{{/* The /tmp emptyDir every pod has (the root filesystem is read-only). */}}
{{- define "notifier.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{/* The /tmp mount of every container. */}}
{{- define "notifier.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* The heartbeat exec probe of worker, beat and inbox. Call with (dict "role" "worker" "maxAge" 120). */}}
{{- define "notifier.heartbeatExec" -}}
exec:
  command: ["python", "/app/config/heartbeat.py", {{ .role | quote }}, "--max-age", {{ .maxAge | toString | quote }}]
{{- end }}

{{/* Liveness and startup probes of a heartbeat role. Call with (dict "role" "worker" "maxAge" 120). */}}
{{- define "notifier.heartbeatProbes" -}}
startupProbe:
  {{- include "notifier.heartbeatExec" . | nindent 2 }}
  periodSeconds: 5
  timeoutSeconds: 5
  failureThreshold: 60
livenessProbe:
  {{- include "notifier.heartbeatExec" . | nindent 2 }}
  periodSeconds: 30
  timeoutSeconds: 5
  failureThreshold: 3
{{- end }}

{{/*
The init container of web, worker, beat and inbox: waits until no migration of this image is
unapplied (the migrate Job applies them), so new code never runs against an old schema.
*/}}
{{- define "notifier.waitForMigrations" -}}
- name: wait-for-migrations
  {{- include "notifier.containerImage" . | nindent 2 }}
  args: ["python", "manage.py", "wait_for_migrations", "--timeout", {{ .Values.waitForMigrations.waitTimeoutSeconds | toString | quote }}]
  {{- include "notifier.envFrom" . | nindent 2 }}
  env:
    {{- include "notifier.requiredSecretEnv" (dict "ctx" . "component" "wait-for-migrations") | nindent 4 }}
  {{- include "notifier.containerSecurityContext" . | nindent 2 }}
  resources:
    {{- toYaml .Values.waitForMigrations.resources | nindent 4 }}
  volumeMounts:
    {{- include "notifier.tmpVolumeMount" . | nindent 4 }}
{{- end }}

{{/* DJANGO_ALLOWED_HOSTS: env's value, or the ingress hosts, the web Service names and localhost (port-forward). */}}
{{- define "notifier.allowedHosts" -}}
{{- if .Values.env.DJANGO_ALLOWED_HOSTS }}
{{- .Values.env.DJANGO_ALLOWED_HOSTS }}
{{- else }}
{{- $hosts := list }}
{{- if .Values.ingress.enabled }}
{{- range .Values.ingress.hosts }}
{{- $hosts = append $hosts .host }}
{{- end }}
{{- end }}
{{- $web := include "notifier.componentName" (dict "ctx" . "component" "web") }}
{{- $hosts = concat $hosts (list $web (printf "%s.%s.svc" $web .Release.Namespace) (printf "%s.%s.svc.cluster.local" $web .Release.Namespace) "localhost" "127.0.0.1") }}
{{- join "," (uniq $hosts) }}
{{- end }}
{{- end }}

{{/* DJANGO_CSRF_TRUSTED_ORIGINS: env's value, or https://<host> for each ingress host. */}}
{{- define "notifier.csrfTrustedOrigins" -}}
{{- if .Values.env.DJANGO_CSRF_TRUSTED_ORIGINS }}
{{- .Values.env.DJANGO_CSRF_TRUSTED_ORIGINS }}
{{- else if .Values.ingress.enabled }}
{{- $origins := list }}
{{- range .Values.ingress.hosts }}
{{- $origins = append $origins (printf "https://%s" .host) }}
{{- end }}
{{- join "," (uniq $origins) }}
{{- end }}
{{- end }}

{{/* NOTIFIER_NUM_PROXIES: env's value, or 1 when the chart makes an Ingress (its controller
appends the client's address to X-Forwarded-For), else 0 (REMOTE_ADDR is the client). */}}
{{- define "notifier.numProxies" -}}
{{- if .Values.env.NOTIFIER_NUM_PROXIES }}
{{- .Values.env.NOTIFIER_NUM_PROXIES }}
{{- else if .Values.ingress.enabled }}1
{{- else }}0
{{- end }}
{{- end }}

{{/* DJANGO_BEHIND_PROXY: env's value, or "true" when the chart makes an Ingress (its
controller overwrites X-Forwarded-Proto), else "false". */}}
{{- define "notifier.behindProxy" -}}
{{- if .Values.env.DJANGO_BEHIND_PROXY }}
{{- .Values.env.DJANGO_BEHIND_PROXY }}
{{- else if .Values.ingress.enabled }}true
{{- else }}false
{{- end }}
{{- end }}

{{- define "notifier.workerProcesses" -}}
{{- if .Values.env.NOTIFIER_WORKER_PROCESSES }}
{{- .Values.env.NOTIFIER_WORKER_PROCESSES }}
{{- else }}
{{- $w := .Values.worker }}
{{- $replicas := $w.replicas }}
{{- if $w.autoscaling.enabled }}{{ $replicas = $w.autoscaling.minReplicas }}{{ end }}
{{- if $w.keda.enabled }}{{ $replicas = $w.keda.minReplicaCount }}{{ end }}
{{- mul (max 1 $replicas) $w.concurrency }}
{{- end }}
{{- end }}

{{/* Refuses values that would deploy something broken; rendered once, from configmap.yaml. */}}
{{- define "notifier.validate" -}}
{{- if not .Values.existingSecret }}
{{- range include "notifier.requiredSecretKeysOfRelease" . | fromJsonArray }}
{{- if not (index $.Values.secretEnv .) }}
{{- fail (printf "secretEnv.%s is required: set secretEnv.%s or existingSecret (the name of a Secret you manage)" . .) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.worker.autoscaling.enabled .Values.worker.keda.enabled }}
{{- fail "worker.autoscaling.enabled and worker.keda.enabled are both true: two autoscalers would fight over the worker Deployment; enable one" }}
{{- end }}
{{- if .Values.worker.keda.enabled }}
{{- $keda := .Values.worker.keda }}
{{- if not (or $keda.redis.address $keda.prometheus.serverAddress $keda.extraTriggers) }}
{{- fail "worker.keda.enabled is true but the ScaledObject would have no trigger: set worker.keda.prometheus.serverAddress (scale on armed notifications), worker.keda.redis.address (scale on the Celery queue length) or worker.keda.extraTriggers" }}
{{- end }}
{{- $key := $keda.redis.passwordSecretKey }}
{{- if and $keda.redis.address $key (not .Values.existingSecret) (not (index .Values.secretEnv $key)) }}
{{- fail (printf "worker.keda.redis.passwordSecretKey is %q but secretEnv.%s is empty: set secretEnv.%s or existingSecret" $key $key $key) }}
{{- end }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.hosts) }}
{{- fail "ingress.enabled is true but ingress.hosts is empty" }}
{{- end }}
{{- end }}

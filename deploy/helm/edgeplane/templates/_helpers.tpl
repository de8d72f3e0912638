{{/*
Names, labels and the pieces every workload shares. A "component" is a key of the
values (gateway, auth, adapters, stats, haproxyAgent, wgAgent); its service is the
directory under services/ that the image's entry point runs.
*/}}

{{- define "edgeplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "edgeplane.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "edgeplane.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "edgeplane.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The service directory (and image argument) of a component key. */}}
{{- define "edgeplane.serviceOf" -}}
{{- $m := dict "gateway" "gateway" "auth" "auth" "adapters" "adapters" "stats" "stats" "haproxyAgent" "haproxy-agent" "wgAgent" "wg-agent" "migrations" "migrate" -}}
{{- required (printf "unknown component %s" .) (get $m .) -}}
{{- end -}}

{{/* Object name of a component: <fullname>-<service>. args: (list $ "auth") */}}
{{- define "edgeplane.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "edgeplane.fullname" $root) (include "edgeplane.serviceOf" (index . 1)) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "edgeplane.chartLabel" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of a component. args: (list $ "auth") */}}
{{- define "edgeplane.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "edgeplane.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ include "edgeplane.serviceOf" (index . 1) }}
{{- end -}}

{{/* Labels of every object of a component. args: (list $ "auth") */}}
{{- define "edgeplane.labels" -}}
{{- $root := index . 0 -}}
{{ include "edgeplane.selectorLabels" . }}
app.kubernetes.io/part-of: edgeplane
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
helm.sh/chart: {{ include "edgeplane.chartLabel" $root }}
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of chart-wide objects (no component). */}}
{{- define "edgeplane.baseLabels" -}}
app.kubernetes.io/name: {{ include "edgeplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: edgeplane
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "edgeplane.chartLabel" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Image reference: component override > default. args: (list $ $componentValues $defaultImage) */}}
{{- define "edgeplane.image" -}}
{{- $root := index . 0 -}}
{{- $img := merge (dict) ((index . 1).image | default dict) (index . 2) -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default $root.Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{- define "edgeplane.pullPolicy" -}}
{{- $img := merge (dict) ((index . 1).image | default dict) (index . 2) -}}
{{- $img.pullPolicy | default "IfNotPresent" -}}
{{- end -}}

{{/* The chart's secrets Secret (generated, or the user's). */}}
{{- define "edgeplane.secretsName" -}}
{{- default (printf "%s-secrets" (include "edgeplane.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* NATS client URL: the dependency's service, or the external URL. */}}
{{- define "edgeplane.natsUrl" -}}
{{- if .Values.nats.enabled -}}
{{- $name := "" -}}
{{- if .Values.nats.fullnameOverride -}}
{{- $name = .Values.nats.fullnameOverride -}}
{{- else if contains "nats" .Release.Name -}}
{{- $name = .Release.Name -}}
{{- else -}}
{{- $name = printf "%s-nats" .Release.Name -}}
{{- end -}}
{{- printf "nats://%s.%s.svc:%d" ($name | trunc 63 | trimSuffix "-") .Release.Namespace (int .Values.nats.port) -}}
{{- else -}}
{{- required "nats.url is required when nats.enabled is false" .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{/*
Environment of a service container. args: (list $ "auth")
Order: the mesh contract, then the component's env, then its secretEnv (from Secrets).
*/}}
{{- define "edgeplane.env" -}}
{{- $root := index . 0 -}}
{{- $key := index . 1 -}}
{{- $c := index $root.Values $key | default dict -}}
- name: EP_NATS_URL
  value: {{ include "edgeplane.natsUrl" $root | quote }}
- name: EP_LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
- name: EP_STREAM_REPLICAS
  value: {{ $root.Values.streamReplicas | quote }}
- name: EP_SERVICE_INSTANCE
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: EP_NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- if $c.healthPort }}
- name: EP_HEALTH_PORT
  value: {{ $c.healthPort | quote }}
- name: EP_HEALTH_HOST
  value: "0.0.0.0"
{{- end }}
{{- $creds := index $root.Values.nats.credentials $key | default dict }}
{{- if $creds.secretName }}
- name: EP_NATS_CREDS
  value: /etc/edgeplane/nats/{{ $creds.key }}
{{- end }}
{{- if $c.database }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "postgres.existingSecret is required (a Secret holding the PostgreSQL DSN)" $root.Values.postgres.existingSecret }}
      key: {{ $root.Values.postgres.secretKey }}
{{- end }}
{{- range $name, $value := $c.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- range $name, $ref := $c.secretEnv }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ default (include "edgeplane.secretsName" $root) $ref.secretName }}
      key: {{ $ref.key }}
      {{- if $ref.optional }}
      optional: true
      {{- end }}
{{- end }}
{{- end -}}

{{/* Volume + mount of a component's NATS credentials, if any. args: (list $ "auth") */}}
{{- define "edgeplane.natsCredsVolume" -}}
{{- $root := index . 0 -}}
{{- $creds := index $root.Values.nats.credentials (index . 1) | default dict -}}
{{- if $creds.secretName }}
- name: nats-creds
  secret:
    secretName: {{ $creds.secretName }}
    defaultMode: 0440
    items:
      - key: {{ $creds.key }}
        path: {{ $creds.key }}
{{- end }}
{{- end -}}

{{- define "edgeplane.natsCredsMount" -}}
{{- $root := index . 0 -}}
{{- $creds := index $root.Values.nats.credentials (index . 1) | default dict -}}
{{- if $creds.secretName }}
- name: nats-creds
  mountPath: /etc/edgeplane/nats
  readOnly: true
{{- end }}
{{- end -}}

{{/* Pod security context of the non-root services (the image's user 10001). */}}
{{- define "edgeplane.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security context: non-root, read-only root, no capabilities. */}}
{{- define "edgeplane.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "edgeplane.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Name of the chart. */}}
{{- define "toogoodtogo-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects: the release name, prefixed unless it holds the chart's. */}}
{{- define "toogoodtogo-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Labels selecting the operator's pods: stable, part of the Deployment's immutable selector. */}}
{{- define "toogoodtogo-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "toogoodtogo-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of every object. Never app.kubernetes.io/managed-by=toogoodtogo-operator: that label marks
the objects the operator owns and watches.
*/}}
{{- define "toogoodtogo-operator.labels" -}}
{{ include "toogoodtogo-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: toogoodtogo
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "toogoodtogo-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "toogoodtogo-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* All namespaces need a ClusterRole; a list of watched namespaces a Role in each. */}}
{{- define "toogoodtogo-operator.controllerRoleKind" -}}
{{- if .Values.watchNamespaces }}Role{{ else }}ClusterRole{{ end }}
{{- end }}

{{/* The watched namespaces, sorted and comma-separated as WATCH_NAMESPACE takes them; empty for all. */}}
{{- define "toogoodtogo-operator.watchedNamespaces" -}}
{{- .Values.watchNamespaces | uniq | sortAlpha | join "," }}
{{- end }}

{{/* The pod affinity: .Values.affinity when set, else the anti-affinity preset. */}}
{{- define "toogoodtogo-operator.affinity" -}}
{{- if .Values.affinity }}
{{- toYaml .Values.affinity }}
{{- else if eq .Values.podAntiAffinityPreset "soft" }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "toogoodtogo-operator.selectorLabels" . | nindent 12 }}
{{- else if eq .Values.podAntiAffinityPreset "hard" }}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "toogoodtogo-operator.selectorLabels" . | nindent 10 }}
{{- end }}
{{- end }}

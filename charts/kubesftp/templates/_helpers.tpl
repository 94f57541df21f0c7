{{- define "kubesftp.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kubesftp.serviceAccountName" -}}
{{- default (printf "%s-operator" (include "kubesftp.fullname" .)) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "kubesftp.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "kubesftp.selectorLabels" -}}
app.kubernetes.io/name: kubesftp-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubesftp.labels" -}}
{{ include "kubesftp.selectorLabels" . }}
app.kubernetes.io/part-of: kubesftp
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

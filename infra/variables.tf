# Inputs of the meshlink deployment; every one but project_id has a default.

variable "project_id" {
  description = "Project that hosts meshlink: functions, topics, the scheduler job, the log sink and the secrets."
  type        = string
}

variable "region" {
  description = "Region of the functions, the source bucket and the Artifact Registry repository."
  type        = string
  default     = "europe-west1"
}

variable "prefix" {
  description = "Prefix of every resource name (functions, topics, service accounts, custom roles)."
  type        = string
  default     = "meshlink"

  validation {
    # Service account ids are 6-30 characters: the longest suffix used is "-runtime".
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}$", var.prefix))
    error_message = "prefix must be 2-15 characters: lowercase letters, digits and '-', starting with a letter."
  }
}

variable "secret_prefix" {
  description = "Prefix of the Secret Manager secret ids meshlink owns (`<prefix>-<link>-<role>`). The runtime identity can only read and change secrets whose id starts with `<secret_prefix>-`."
  type        = string
  default     = "meshlink"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,200}$", var.secret_prefix))
    error_message = "secret_prefix may hold only letters, digits, '_' and '-'."
  }
}

variable "runtime" {
  description = "Cloud Functions runtime. nodejs24 (supported to 2028-04-30) by default; nodejs22 is deprecated on 2027-04-30; nodejs20 is decommissioned."
  type        = string
  default     = "nodejs24"

  validation {
    condition     = contains(["nodejs22", "nodejs24"], var.runtime)
    error_message = "runtime must be nodejs22 or nodejs24."
  }
}

variable "source_dir" {
  description = "Repository root to deploy (must hold package.json, package-lock.json and dist/ from `npm run build`). Defaults to the parent of this module."
  type        = string
  default     = null
}

variable "sweep_schedule" {
  description = "Cron schedule of the rotation sweep (Cloud Scheduler syntax)."
  type        = string
  default     = "*/15 * * * *"
}

variable "schedule_time_zone" {
  description = "Time zone of sweep_schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "scheduler_region" {
  description = "Region of the Cloud Scheduler job when Cloud Scheduler is not offered in var.region. Defaults to var.region."
  type        = string
  default     = null
}

variable "api_invokers" {
  description = "Principals allowed to call the HTTP API (roles/run.invoker on its Cloud Run service), e.g. [\"user:ops@example.com\", \"group:platform@example.com\", \"serviceAccount:ci@p.iam.gserviceaccount.com\"]."
  type        = list(string)
  default     = []

  validation {
    # An allowlist of principal kinds: allUsers and allAuthenticatedUsers have no "kind:" form.
    condition     = alltrue([for m in var.api_invokers : can(regex("^(user|group|serviceAccount|domain):[^:]+$", m))])
    error_message = "api_invokers entries must be user:, group:, serviceAccount: or domain: principals; the API is never public."
  }
}

variable "api_ingress" {
  description = "Network ingress of the HTTP API. IAM (api_invokers) is enforced in every case."
  type        = string
  default     = "ALLOW_ALL"

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.api_ingress)
    error_message = "api_ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "enable_gke" {
  description = "Let meshlink reach GKE clusters of this project (custom role with container.clusters.get/getCredentials) and route GKE cluster audit events to the registration function."
  type        = bool
  default     = true
}

variable "enable_fleet" {
  description = "Let meshlink reach fleet members through the Connect gateway (gkehub viewer + gatewayEditor on the fleet host project) and route membership audit events to the registration function."
  type        = bool
  default     = true
}

variable "fleet_project_id" {
  description = "Fleet host project. Defaults to project_id. Membership audit events are routed only from project_id."
  type        = string
  default     = null
}

variable "max_delivery_attempts" {
  description = "Deliveries of a Pub/Sub message to an event function before it goes to that function's dead-letter topic (5-100)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100."
  }
}

variable "api_timeout_seconds" {
  description = "Request timeout of the HTTP API."
  type        = number
  default     = 300
}

variable "event_timeout_seconds" {
  description = "Timeout of the event functions; kept below the push subscriptions' ack deadline (600 s) so a slow run is not delivered twice."
  type        = number
  default     = 540

  validation {
    condition     = var.event_timeout_seconds >= 10 && var.event_timeout_seconds < 600
    error_message = "event_timeout_seconds must be at least 10 and below 600 (the push ack deadline)."
  }
}

variable "rotation_max_instances" {
  description = "Upper bound of concurrent rotation workers: it bounds Secret Manager writes (600 per minute per project) and calls per cluster."
  type        = number
  default     = 10
}

variable "api_max_instances" {
  description = "Upper bound of HTTP API instances."
  type        = number
  default     = 10
}

variable "function_memory" {
  description = "Memory of each function."
  type        = string
  default     = "512M"
}

variable "log_level" {
  description = "MESHLINK_LOG_LEVEL of the functions."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

variable "labels" {
  description = "Labels added to every labelled resource."
  type        = map(string)
  default     = {}
}

variable "alert_notification_channels" {
  description = "Notification channels (ids `projects/P/notificationChannels/N`) the alert policies of alerts.tf notify; empty: incidents open in Cloud Monitoring without notifying anyone."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.alert_notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", c))])
    error_message = "alert_notification_channels entries must be projects/PROJECT/notificationChannels/ID."
  }
}

variable "expiry_alert_days" {
  description = "Page when a sweep sees a leaf certificate fewer than this many days from expiry and its renewal time passed. Keep it below the links' renewBefore (10 days of the default 30-day leaves)."
  type        = number
  default     = 7

  validation {
    condition     = var.expiry_alert_days > 0
    error_message = "expiry_alert_days must be positive."
  }
}

variable "ca_expiry_alert_days" {
  description = "Page when a sweep sees a link's newest CA fewer than this many days from expiry and its rollover due."
  type        = number
  default     = 30

  validation {
    condition     = var.ca_expiry_alert_days > 0
    error_message = "ca_expiry_alert_days must be positive."
  }
}

variable "issuer_ca_expiry_alert_days" {
  description = "Page when a sweep sees a link whose issuer's issuing chain ends in fewer than this many days (import a renewed issuing CA before)."
  type        = number
  default     = 30

  validation {
    condition     = var.issuer_ca_expiry_alert_days > 0
    error_message = "issuer_ca_expiry_alert_days must be positive."
  }
}

variable "partner_ca_expiry_alert_days" {
  description = "Page when a sweep sees a link whose partner's first CA expires in fewer than this many days (the partner renews it; POST the new caCertificates)."
  type        = number
  default     = 30

  validation {
    condition     = var.partner_ca_expiry_alert_days > 0
    error_message = "partner_ca_expiry_alert_days must be positive."
  }
}

variable "sweep_missing_after_seconds" {
  description = "Page when no sweep has finished for this long (a multiple of sweep_schedule's period)."
  type        = number
  default     = 3600

  validation {
    condition     = var.sweep_missing_after_seconds >= 1800 && var.sweep_missing_after_seconds <= 86400
    error_message = "sweep_missing_after_seconds must be between 1800 and 86400."
  }
}

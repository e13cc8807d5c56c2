# What publishes to the feed topics: the Cloud Scheduler job (sweep) and the audit-log sink (cluster registration).

resource "google_cloud_scheduler_job" "sweep" {
  project     = var.project_id
  region      = local.scheduler_region
  name        = "${var.prefix}-sweep"
  description = "Starts a meshlink rotation sweep."
  schedule    = var.sweep_schedule
  time_zone   = var.schedule_time_zone
  # No attempt_deadline: Pub/Sub targets ignore it (setting it only causes a perpetual diff).

  pubsub_target {
    topic_name = google_pubsub_topic.feed["sweep"].id
    data       = base64encode(jsonencode({ trigger = "schedule" }))
    attributes = {
      source = "cloud-scheduler"
    }
  }

  depends_on = [google_project_service.apis]
}

locals {
  # Method names match shared/registration/methods.ts (AUDIT_METHODS), by substring (":"), so
  # v1 and v1beta1 entries both match. A GKE creation logs two entries with one operation id:
  # only operation.last=true means the cluster is ready (and, for a deletion, gone).
  gke_registration_filter = <<-EOT
    protoPayload.serviceName="container.googleapis.com"
    AND protoPayload.methodName:("ClusterManager.CreateCluster" OR "ClusterManager.DeleteCluster")
    AND operation.last=true
  EOT

  fleet_registration_filter = <<-EOT
    protoPayload.serviceName="gkehub.googleapis.com"
    AND protoPayload.methodName:("CreateMembership" OR "UpdateMembership" OR "DeleteMembership")
  EOT

  registration_sources = compact([
    var.enable_gke ? local.gke_registration_filter : "",
    var.enable_fleet ? local.fleet_registration_filter : "",
  ])

  registration_filter = "logName=\"projects/${var.project_id}/logs/cloudaudit.googleapis.com%2Factivity\" AND (${join(" OR ", [for f in local.registration_sources : "(${trimspace(f)})"])})"
}

resource "google_logging_project_sink" "registration" {
  count = length(local.registration_sources) > 0 ? 1 : 0

  project                = var.project_id
  name                   = "${var.prefix}-registration"
  description            = "Cluster and fleet membership audit entries for meshlink's registration function."
  destination            = "pubsub.googleapis.com/${google_pubsub_topic.feed["cluster-registration"].id}"
  filter                 = local.registration_filter
  unique_writer_identity = true

  depends_on = [google_project_service.apis]
}

# writer_identity already reads "serviceAccount:...".
resource "google_pubsub_topic_iam_member" "registration_sink_publisher" {
  count = length(local.registration_sources) > 0 ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.feed["cluster-registration"].name
  role    = "roles/pubsub.publisher"
  member  = google_logging_project_sink.registration[0].writer_identity
}

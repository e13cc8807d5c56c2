# The four Cloud Functions (2nd gen): the HTTP API and the three event functions fed by push subscriptions.

resource "google_cloudfunctions2_function" "api" {
  project     = var.project_id
  location    = var.region
  name        = "${var.prefix}-api"
  description = "meshlink HTTP API: create, read, list, delete and force-rotate links."
  labels      = local.labels

  build_config {
    runtime               = var.runtime
    entry_point           = local.api_entry_point
    docker_repository     = google_artifact_registry_repository.functions.id
    service_account       = google_service_account.accounts["build"].id
    environment_variables = local.build_env

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email          = google_service_account.accounts["runtime"].email
    ingress_settings               = var.api_ingress
    available_memory               = var.function_memory
    timeout_seconds                = var.api_timeout_seconds
    min_instance_count             = 0
    max_instance_count             = var.api_max_instances
    all_traffic_on_latest_revision = true
    environment_variables          = local.runtime_env
  }

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.build_log_writer,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_project_iam_member.build_staging_objects,
  ]
}

# Deployed without event_trigger: Terraform cannot put a dead-letter topic on the subscription
# Eventarc would create. Each gets a push subscription of ours instead (pubsub.tf), which
# functions-framework turns into the same messagePublished CloudEvent.
resource "google_cloudfunctions2_function" "event" {
  for_each = local.event_functions

  project     = var.project_id
  location    = var.region
  name        = "${var.prefix}-${each.key}"
  description = "meshlink ${each.key}, fed by the ${each.value.topic} topic."
  labels      = local.labels

  build_config {
    runtime               = var.runtime
    entry_point           = each.value.entry_point
    docker_repository     = google_artifact_registry_repository.functions.id
    service_account       = google_service_account.accounts["build"].id
    environment_variables = local.build_env

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.accounts["runtime"].email
    # Pub/Sub push from this project counts as internal traffic.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    available_memory               = var.function_memory
    timeout_seconds                = var.event_timeout_seconds
    min_instance_count             = 0
    max_instance_count             = each.value.max_instances
    all_traffic_on_latest_revision = true
    environment_variables          = local.runtime_env
  }

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.build_log_writer,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_project_iam_member.build_staging_objects,
  ]
}

# The four Cloud Functions (2nd gen): the HTTP API and the three event functions fed by push
# subscriptions, one resource over local.functions (main.tf).
#
# The event functions are deployed without event_trigger: Terraform cannot put a dead-letter topic
# on the subscription Eventarc would create. Each gets a push subscription of ours instead
# (pubsub.tf), which functions-framework turns into the same messagePublished CloudEvent.
resource "google_cloudfunctions2_function" "functions" {
  for_each = local.functions

  project     = var.project_id
  location    = var.region
  name        = "${var.prefix}-${each.key}"
  description = try(each.value.description, "meshlink ${each.key}, fed by the ${each.value.topic} topic.")
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
    service_account_email          = google_service_account.accounts["runtime"].email
    ingress_settings               = try(each.value.ingress, "ALLOW_INTERNAL_ONLY")
    available_memory               = var.function_memory
    timeout_seconds                = try(each.value.timeout_seconds, var.event_timeout_seconds)
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

# The API and the event functions were two resources: their state moves to the instances, nothing
# is replaced.
moved {
  from = google_cloudfunctions2_function.api
  to   = google_cloudfunctions2_function.functions["api"]
}

moved {
  from = google_cloudfunctions2_function.event["sweep"]
  to   = google_cloudfunctions2_function.functions["sweep"]
}

moved {
  from = google_cloudfunctions2_function.event["rotate-link"]
  to   = google_cloudfunctions2_function.functions["rotate-link"]
}

moved {
  from = google_cloudfunctions2_function.event["cluster-registration"]
  to   = google_cloudfunctions2_function.functions["cluster-registration"]
}

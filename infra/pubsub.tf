# Topics, push subscriptions to the event functions (OIDC, retry, dead-letter), dead-letter topics and their subscriptions.

locals {
  pubsub_service_agent = "serviceAccount:service-${local.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# The topic that feeds each event function: schedule (sweep), rotation (rotate-link, the sweep's
# fan-out), registration (cluster-registration, from the audit-log sink or operators).
resource "google_pubsub_topic" "feed" {
  for_each = local.event_functions

  project = var.project_id
  name    = "${var.prefix}-${each.value.topic}"
  labels  = local.labels

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = local.event_functions

  project = var.project_id
  name    = "${var.prefix}-${each.value.topic}-dlq"
  labels  = local.labels

  depends_on = [google_project_service.apis]
}

# Dead-lettered messages are kept here for inspection and replay (a topic without a
# subscription would drop them).
resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.event_functions

  project                    = var.project_id
  name                       = "${var.prefix}-${each.value.topic}-dlq"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  labels                     = local.labels

  expiration_policy {
    ttl = "" # never expire, however long nothing fails
  }
}

resource "google_pubsub_subscription" "push" {
  for_each = local.event_functions

  project = var.project_id
  name    = "${var.prefix}-${each.value.topic}-to-${each.key}"
  topic   = google_pubsub_topic.feed[each.key].id
  labels  = local.labels

  # Above the function timeout, so a slow run is not delivered a second time meanwhile.
  ack_deadline_seconds       = 600
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = "" # the registration topic may be quiet for months
  }

  push_config {
    # The /projects/P/topics/T path makes functions-framework hand the handler a
    # google.cloud.pubsub.topic.v1.messagePublished CloudEvent, as an Eventarc trigger would.
    push_endpoint = "${google_cloudfunctions2_function.functions[each.key].service_config[0].uri}/projects/${var.project_id}/topics/${google_pubsub_topic.feed[each.key].name}"

    oidc_token {
      service_account_email = google_service_account.accounts["push"].email
      audience              = google_cloudfunctions2_function.functions[each.key].service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invoker,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}

# The Pub/Sub service agent forwards undeliverable messages: it must publish to the dead-letter
# topic and acknowledge on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.event_functions

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[each.key].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.event_functions

  project      = var.project_id
  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

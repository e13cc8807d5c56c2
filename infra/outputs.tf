# What the deployment exposes: URLs, identities (for RBAC and invoker grants), topics.

output "api_url" {
  description = "URL of the HTTP API (Cloud Run service URL); call it with an identity token of a principal in api_invokers."
  value       = google_cloudfunctions2_function.functions["api"].service_config[0].uri
}

output "functions" {
  description = "Deployed function name per entry point."
  value       = { for k, f in google_cloudfunctions2_function.functions : f.build_config[0].entry_point => f.name }
}

output "runtime_service_account" {
  description = "Email of the functions' runtime identity: the User to bind in cluster RBAC (rbac/meshlink-rbac.yaml)."
  value       = google_service_account.accounts["runtime"].email
}

output "push_service_account" {
  description = "Email of the identity Pub/Sub pushes with."
  value       = google_service_account.accounts["push"].email
}

output "topics" {
  description = "Feed topic ids, by consuming function."
  value       = { for k, t in google_pubsub_topic.feed : k => t.id }
}

output "rotation_topic" {
  description = "The fan-out topic (MESHLINK_ROTATION_TOPIC)."
  value       = google_pubsub_topic.feed["rotate-link"].id
}

output "registration_topic" {
  description = "Where registration events go; operators may publish here too."
  value       = google_pubsub_topic.feed["cluster-registration"].id
}

output "dead_letter_subscriptions" {
  description = "Pull subscriptions holding messages an event function could not take, by function."
  value       = { for k, s in google_pubsub_subscription.dead_letter : k => s.id }
}

output "runtime_env" {
  description = "Environment variables every function receives."
  value       = local.runtime_env
}

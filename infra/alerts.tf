# Alerts as code: log-based metrics on the structured events meshlink logs (the `event` field,
# named in shared/log-events.ts) and alert policies on them, sent to var.alert_notification_channels.
# test/infra/alerts.test.ts evaluates every filter below on log lines the code writes.

locals {
  # Lines of meshlink's own functions: Cloud Functions (2nd gen) run as Cloud Run services named "<prefix>-...".
  meshlink_logs = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=~\"^${var.prefix}-\""

  log_metrics = {
    "rotation-failed" = {
      description = "A link's rotation failed; the next sweep tries again (rotation-failed)."
      filter      = "${local.meshlink_logs} AND jsonPayload.event=\"rotation-failed\" AND severity>=ERROR"
    }
    "sync-failed" = {
      description = "A link side could not be written to its cluster (sync-failed)."
      filter      = "${local.meshlink_logs} AND jsonPayload.event=\"sync-failed\" AND severity>=WARNING"
    }
    "leaf-expiring" = {
      description = "A sweep saw a link certificate within expiry_alert_days of expiry whose renewal time has passed (link-expiry)."
      filter      = "${local.meshlink_logs} AND jsonPayload.event=\"link-expiry\" AND jsonPayload.renewalDue=true AND jsonPayload.daysToExpiry<${var.expiry_alert_days}"
    }
    "ca-expiring" = {
      description = "A sweep saw a link's newest CA within ca_expiry_alert_days of expiry with no rollover done (link-expiry)."
      filter      = "${local.meshlink_logs} AND jsonPayload.event=\"link-expiry\" AND jsonPayload.renewalDue=true AND jsonPayload.caDaysToExpiry<${var.ca_expiry_alert_days}"
    }
    "issuer-ca-expiring" = {
      description = "A sweep saw a link whose issuer's issuing chain ends within issuer_ca_expiry_alert_days (link-expiry)."
      filter      = "${local.meshlink_logs} AND jsonPayload.event=\"link-expiry\" AND jsonPayload.issuerCaDaysToExpiry<${var.issuer_ca_expiry_alert_days}"
    }
    "partner-ca-expiring" = {
      description = "A sweep saw a link whose partner's first CA expires within partner_ca_expiry_alert_days (link-expiry)."
      filter      = "${local.meshlink_logs} AND jsonPayload.event=\"link-expiry\" AND jsonPayload.partnerCaDaysToExpiry<${var.partner_ca_expiry_alert_days}"
    }
    "sweep-done" = {
      description = "A rotation sweep finished (sweep-done); its absence means nothing is being renewed."
      filter      = "${local.meshlink_logs} AND jsonPayload.event=\"sweep-done\""
    }
    "sweep-failed" = {
      description = "A rotation sweep failed (sweep-failed)."
      filter      = "${local.meshlink_logs} AND jsonPayload.event=\"sweep-failed\" AND severity>=ERROR"
    }
    "probe-failed" = {
      description = "A link's probe failed: its server end refused, timed out, or served a certificate the link does not accept (probe-failed)."
      filter      = "${local.meshlink_logs} AND jsonPayload.event=\"probe-failed\" AND severity>=WARNING"
    }
  }

  # The alert policies, one per key (the resource address google_monitoring_alert_policy.alerts["KEY"]).
  # A condition counts lines of its metric over `period` seconds and fires above `above`; one with
  # `absent_for` fires when its metric has counted nothing for that long instead. `reduce` sums the
  # series of all links (a condition on the whole service, not on one link).
  alert_policies = {
    rotation_failed = {
      title    = "link rotation failed"
      severity = "ERROR"
      conditions = [
        { display_name = "rotation-failed lines", metric = "rotation-failed", above = 0, period = 300 },
      ]
      documentation = "A link's rotation failed (label `link`). Read the line's `error`, then `GET /links/{name}` or the status page: the next sweep retries it."
    }
    sync_failed = {
      title    = "link side not synced"
      severity = "WARNING"
      conditions = [
        # A cluster briefly out of reach is retried (MESHLINK_SYNC_RETRY): one failure is not a page.
        { display_name = "sync-failed lines, more than one in 30 minutes", metric = "sync-failed", above = 1, period = 1800 },
      ]
      documentation = "A link side could not be written to its cluster (labels: `link`; the line names `cluster` and `side`). Its `lastError` is on the status page."
    }
    expiring = {
      title    = "certificate near expiry, not renewed"
      severity = "CRITICAL"
      conditions = [
        { display_name = "leaf within ${var.expiry_alert_days} days of expiry, renewal due", metric = "leaf-expiring", above = 0, period = 3600 },
        { display_name = "CA within ${var.ca_expiry_alert_days} days of expiry, rollover due", metric = "ca-expiring", above = 0, period = 3600 },
      ]
      documentation = "A link's certificate or CA is close to expiry and its renewal time has passed (label `link`): its rotation is failing. Look for its rotation-failed and sync-failed lines, or force one with `POST /links/{name}:rotate`."
    }
    ca_near_expiry = {
      title    = "an issuer or partner CA near expiry"
      severity = "WARNING"
      conditions = [
        { display_name = "issuing chain within ${var.issuer_ca_expiry_alert_days} days of expiry", metric = "issuer-ca-expiring", above = 0, period = 3600 },
        { display_name = "partner CA within ${var.partner_ca_expiry_alert_days} days of expiry", metric = "partner-ca-expiring", above = 0, period = 3600 },
      ]
      documentation = "A CA meshlink does not renew is close to expiry (label `link`). `issuerCaDaysToExpiry`: the organisation's issuing chain of the link's issuer ends soon; import a renewed issuing CA (`PUT /issuers/{name}`, the links roll over to it). `partnerCaDaysToExpiry`: the partner's CA ends soon; get its renewed CA and POST the link with the new `caCertificates`."
    }
    sweep = {
      title    = "rotation sweep not running"
      severity = "CRITICAL"
      conditions = [
        # Without sweeps nothing is renewed and no link-expiry line is written: the expiry alerts go blind.
        { display_name = "no sweep-done line for ${var.sweep_missing_after_seconds} s", metric = "sweep-done", absent_for = var.sweep_missing_after_seconds, period = 300, reduce = true },
        { display_name = "sweep-failed lines", metric = "sweep-failed", above = 0, period = 300, reduce = true },
      ]
      documentation = "The rotation sweep has not finished for a while, or failed. Check the `${var.prefix}-sweep` function, the scheduler job and its dead-letter subscription."
    }
    probe_failed = {
      title    = "link probe failing"
      severity = "WARNING"
      conditions = [
        # Each sweep probes every link: two failures in a row (at 15-minute sweeps) is not a blip.
        { display_name = "probe-failed lines, more than one in 30 minutes", metric = "probe-failed", above = 1, period = 1800 },
      ]
      documentation = "A link's probe keeps failing (label `link`; the line names `target`, `kind` and `reason`): its gateway does not answer, or serves a certificate the link does not accept. Its `probe` is on the status page; `POST /links/{name}:probe` tries again now."
    }
  }

  # A log-based metric's monitored resource is the resource of the lines it counts.
  metric_filter = { for k, m in google_logging_metric.events : k => "metric.type=\"logging.googleapis.com/user/${m.name}\" AND resource.type=\"cloud_run_revision\"" }
}

resource "google_logging_metric" "events" {
  for_each = local.log_metrics

  project     = var.project_id
  name        = "${var.prefix}-${each.key}"
  description = each.value.description
  filter      = each.value.filter

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    # One time series per link: each incident names its link.
    labels {
      key        = "link"
      value_type = "STRING"
    }
  }

  label_extractors = {
    link = "EXTRACT(jsonPayload.link)"
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "alerts" {
  for_each = local.alert_policies

  project               = var.project_id
  display_name          = "${var.prefix}: ${each.value.title}"
  combiner              = "OR"
  severity              = each.value.severity
  notification_channels = var.alert_notification_channels

  dynamic "conditions" {
    for_each = each.value.conditions
    iterator = c
    content {
      display_name = c.value.display_name

      dynamic "condition_threshold" {
        for_each = lookup(c.value, "absent_for", null) == null ? [c.value] : []
        content {
          filter          = local.metric_filter[c.value.metric]
          comparison      = "COMPARISON_GT"
          threshold_value = c.value.above
          duration        = "0s"
          aggregations {
            alignment_period     = "${c.value.period}s"
            per_series_aligner   = "ALIGN_SUM"
            cross_series_reducer = lookup(c.value, "reduce", false) ? "REDUCE_SUM" : null
          }
        }
      }

      dynamic "condition_absent" {
        for_each = lookup(c.value, "absent_for", null) == null ? [] : [c.value]
        content {
          filter   = local.metric_filter[c.value.metric]
          duration = "${c.value.absent_for}s"
          aggregations {
            alignment_period     = "${c.value.period}s"
            per_series_aligner   = "ALIGN_SUM"
            cross_series_reducer = lookup(c.value, "reduce", false) ? "REDUCE_SUM" : null
          }
        }
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = each.value.documentation
  }
}

# The policies that were deployed as one resource each: their state moves to the instances,
# nothing is replaced (the policies added since were never deployed on their own).
moved {
  from = google_monitoring_alert_policy.rotation_failed
  to   = google_monitoring_alert_policy.alerts["rotation_failed"]
}

moved {
  from = google_monitoring_alert_policy.sync_failed
  to   = google_monitoring_alert_policy.alerts["sync_failed"]
}

moved {
  from = google_monitoring_alert_policy.expiring
  to   = google_monitoring_alert_policy.alerts["expiring"]
}

moved {
  from = google_monitoring_alert_policy.sweep
  to   = google_monitoring_alert_policy.alerts["sweep"]
}

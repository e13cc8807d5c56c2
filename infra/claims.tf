# The claims' bucket (MESHLINK_CLAIMS_BUCKET): one object per claimed gateway port and host,
# created only if absent and deleted at its generation (shared/store/claims/cloud-storage-claims.ts).
# Claims here cost no Secret Manager quota: a link creation is 7 Secret Manager writes, not 9.

resource "google_storage_bucket" "claims" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.prefix}-claims"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false # claims are state: a destroy must not drop them with the links still there
  labels                      = local.labels

  # A deleted claim is gone (a noncurrent version would keep nothing anyone reads), and no
  # lifecycle rule: a claim lives as long as its link, however old.
  versioning {
    enabled = false
  }

  depends_on = [google_project_service.apis]
}

# Create, read, list and delete objects: no update, no ACL, nothing on the bucket itself.
resource "google_project_iam_custom_role" "claim_keeper" {
  project     = var.project_id
  role_id     = "${local.role_prefix}_claimKeeper"
  title       = "meshlink claim keeper"
  description = "Create, get, list and delete the claim objects; granted on the claims' bucket only."
  permissions = [
    "storage.objects.create",
    "storage.objects.get",
    "storage.objects.list",
    "storage.objects.delete",
  ]

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_iam_member" "runtime_claims" {
  bucket = google_storage_bucket.claims.name
  role   = google_project_iam_custom_role.claim_keeper.id
  member = google_service_account.accounts["runtime"].member
}

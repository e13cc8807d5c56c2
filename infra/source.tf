# The functions' source: this repository (with dist/ already built) zipped and uploaded, and where its builds go.

data "archive_file" "source" {
  type        = "zip"
  source_dir  = local.source_dir
  output_path = "${path.module}/.build/meshlink-source.zip"

  # What the function build does not need. `infra` also keeps the zip out of itself.
  excludes = [
    ".git",
    ".ci",
    ".meshlink",
    ".env",
    "coverage",
    "infra",
    "node_modules",
    "test",
  ]
}

resource "google_storage_bucket" "source" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.prefix}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true # holds only build inputs
  labels                      = local.labels

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_object" "source" {
  # The content hash in the name makes every source change a new object, which redeploys the functions.
  name   = "meshlink-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path

  lifecycle {
    precondition {
      condition     = fileexists("${local.source_dir}/dist/bundle/index.mjs")
      error_message = "dist/bundle/index.mjs (package.json main) is missing: run `npm ci && npm run build` in the repository root before terraform apply."
    }
  }
}

# Build images of the functions (instead of the shared gcf-artifacts repository), so the build
# identity can be given write access to this repository only.
resource "google_artifact_registry_repository" "functions" {
  project       = var.project_id
  location      = var.region
  repository_id = "${var.prefix}-functions"
  format        = "DOCKER"
  description   = "Build images of the meshlink functions."
  labels        = local.labels

  depends_on = [google_project_service.apis]
}

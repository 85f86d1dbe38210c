# Terraform and provider pins. The google provider 6.x and 7.x both have every resource used here
# (7.0 only made event_trigger.event_type required and service_config.service computed, and neither
# is set here). The archive provider zips each bundle directory.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3.0"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

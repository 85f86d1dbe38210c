"""Checks of the deployment: the bundles, the Terraform configuration and the Knative manifests."""

"""The wire between the stages: event types, payloads, the CloudEvent envelope, trace context, signatures."""

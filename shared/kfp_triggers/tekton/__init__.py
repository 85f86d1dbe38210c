"""Tekton Triggers' semantics: the request, interceptor chains, bindings, templates, JSONPath, origins."""

"""Everything that talks to the world: transports, the store, launchers, notifiers, HTTP, Tekton events."""

//! Structure of protocol bindings (kafka, mqtt, websockets, http), by `bindingVersion`.

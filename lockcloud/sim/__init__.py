"""A local Tuya cloud for development and tests: REST simulator, lock models and a Pulsar broker."""

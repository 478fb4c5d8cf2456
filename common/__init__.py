"""What the Dataflow services share: settings, logging, errors, the Tornado base
application and handler, OAuth2 token validation, MongoDB and Kafka clients,
the audit trail and the retry policy for transient failures.

Nothing here knows about flows, cron jobs or stream pipelines; a service never
imports another service's package.
"""
